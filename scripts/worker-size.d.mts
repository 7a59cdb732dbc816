/** Types of scripts/worker-size.mjs (for the tests). */
import type { Metafile } from "esbuild";

/** Budget of the gzipped Worker, in KiB. */
export declare const workerBudgetKiB: number;

/** The result of {@link buildWorker}. */
export interface WorkerBuild {
  entry: string;
  /** No Node built-in imported, no Node global used in our sources. */
  ok: boolean;
  problems: string[];
  bytes?: number;
  gzipBytes?: number;
  metafile?: Metafile;
}

/** Builds `entry` (default wrangler.toml `main`) as wrangler does, in memory, checking runtime neutrality. */
export declare function buildWorker(opts?: { entry?: string; alias?: boolean }): Promise<WorkerBuild>;
/** Bytes in the output per package or source folder, largest first. */
export declare function sizeByPackage(metafile: Metafile): [string, number][];
/** Our source files in the metafile that use Node globals. */
export declare function nodeGlobalUses(metafile: Pick<Metafile, "inputs">): string[];
