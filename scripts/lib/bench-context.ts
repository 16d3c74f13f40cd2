import type pg from 'pg';
import type { ExporterProcesses } from './bench-processes.ts';
import type { S3Info } from './embedded.ts';

/** What the flags decided (scripts/bench.ts), as each scenario and the verdicts read it. */
export interface BenchSettings {
  /** Runs per scenario, odd: the median is one run's figure. */
  repeat: number;
  /** Light requests for the throughput and scale-out scenarios. */
  light: number;
  /** Requests inserted one every 100 ms for an idle `exporter work`; 0 skips. */
  latency: number;
  /** The size of the one large file of the files scenario, in MiB; 0 skips. */
  fileMib: number;
  /** The small files of the files scenario. */
  smallFiles: number;
}

/** The one run's database, S3 API, settings and exporter processes, handed to each scenario. */
export interface BenchContext {
  db: pg.Client;
  databaseUrl: string;
  s3: S3Info;
  /** The bucket the archives (and the light floor's objects) go to. */
  bucket: string;
  /** Requests in parallel per exporter process (EXPORT_CONCURRENCY), and the light floor's. */
  concurrency: number;
  settings: BenchSettings;
  processes: ExporterProcesses;
}

/** Progress goes to stderr; stdout is the table and the verdicts only. */
export const log = (text: string) => process.stderr.write(`${text}\n`);
