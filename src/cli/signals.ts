/** Runs `stop` once on the first SIGINT/SIGTERM, then lets the process exit with the conventional code. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop()
      .catch((error: unknown) => {
        process.stderr.write(`cosell: error while stopping: ${String(error)}\n`);
      })
      .finally(() => {
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
