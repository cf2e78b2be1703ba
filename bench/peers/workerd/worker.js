// bench/http peer: Cloudflare workerd (from npm) serving a JavaScript hello worker.
export default {
  async fetch(request) {
    return new Response("Hello from Python!", { headers: { "content-type": "text/plain" } });
  },
};
