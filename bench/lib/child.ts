/**
 * The child side of a benchmark process: answers commands from the orchestrator over the IPC channel
 * (`{ id, cmd, args }` → `{ id, ok, value | error }`), sends events (`{ event, ... }`), and exits
 * cleanly on `exit` (so that `--cpu-prof` writes its profile).
 */

export type Commands = Record<string, (args: any) => unknown>;

/** Sends an event to the orchestrator. */
export function emit(event: string, data: Record<string, unknown> = {}): void {
  process.send?.({ event, ...data });
}

/** Serves `commands`; `ready` is sent once with `info`. */
export function serveCommands(commands: Commands, info: Record<string, unknown> = {}, onExit?: () => Promise<void>): void {
  if (!process.send) throw new Error("benchmark processes are started by bench/run.ts (IPC channel missing)");
  process.on("message", async (m: { id: number; cmd: string; args?: unknown }) => {
    if (m.cmd === "exit") {
      try {
        await onExit?.();
      } catch {
        // exiting anyway
      }
      process.send?.({ id: m.id, ok: true, value: null }, () => process.exit(0));
      return;
    }
    const fn = commands[m.cmd];
    try {
      if (!fn) throw new Error(`unknown command ${m.cmd}`);
      const value = await fn(m.args);
      process.send?.({ id: m.id, ok: true, value: value ?? null });
    } catch (e) {
      process.send?.({ id: m.id, ok: false, error: e instanceof Error ? e.stack ?? e.message : String(e) });
    }
  });
  process.on("disconnect", () => process.exit(0));
  emit("ready", info);
}

/** Reads `--name=value` arguments. */
export function argv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of process.argv.slice(2)) {
    const m = /^--([^=]+)=(.*)$/s.exec(a);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** This process's CPU time in µs since `since` (process.cpuUsage). */
export function cpuMicros(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}
