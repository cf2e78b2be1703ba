fetch("/api/hello").then((r) => r.json()).then((j) => console.log(j.hello));
