// Pyodide's own start, for bench/startup: the seed's hello worker in Pyodide under Node.
//   node --expose-gc pyodide_start.mjs <pyodide.mjs path> <starts>
// cold:     loadPyodide(), define the worker, call fetch()  (what a start without a snapshot does)
// snapshot: loadPyodide({_loadSnapshot}) of a memory snapshot taken after the worker was
//           defined (makeMemorySnapshot()), then call fetch()
// Prints one JSON object: {"version", "cold_ms": [...], "snapshot_ms": [...], "snapshot_bytes"}.
const [, , modulePath, startsArg] = process.argv;
const { loadPyodide, version } = await import(modulePath);
const starts = Number(startsArg || 20);
const WORKER = "def fetch():\n    return 'Hello from Python!'\n";

async function timed(fn) {
  if (global.gc) global.gc();
  const t0 = performance.now();
  const out = await fn();
  const ms = performance.now() - t0;
  if (out !== "Hello from Python!") throw new Error(`unexpected answer: ${out}`);
  return ms;
}

const cold = [];
for (let i = 0; i < starts; i++) {
  cold.push(await timed(async () => {
    const py = await loadPyodide();
    py.runPython(WORKER);
    return py.runPython("fetch()");
  }));
}
const maker = await loadPyodide({ _makeSnapshot: true });
maker.runPython(WORKER);
const snapshot = maker.makeMemorySnapshot();
const restored = [];
for (let i = 0; i < starts; i++) {
  restored.push(await timed(async () => {
    const py = await loadPyodide({ _loadSnapshot: snapshot });
    return py.runPython("fetch()");
  }));
}
console.log(JSON.stringify({ version, cold_ms: cold, snapshot_ms: restored, snapshot_bytes: snapshot.length }));
