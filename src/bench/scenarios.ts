/**
 * Benchmark scenarios, modelled on `nats bench`. The standard set is the one of
 * ../shared/tools/nbench/bench.sh (same names, counts and subjects) so that figures from either
 * generator line up; the size set sweeps 1→1 payloads from 16 B to 64 KiB.
 */
export interface Scenario {
  name: string;
  kind: 'pubsub' | 'req';
  /** Publisher connections (pubsub) or requester connections (req). */
  publishers: number;
  /** Subscriber connections; 0 = publish only. Unused for req. */
  subscribers: number;
  /** Messages published in total (shared by the publishers), or requests in total. */
  count: number;
  /** Payload bytes. */
  size: number;
  subject: string;
  queue: string | null;
}

function pubsub(name: string, count: number, publishers: number, subscribers: number, size: number, subject: string, queue: string | null = null): Scenario {
  return { name, kind: 'pubsub', publishers, subscribers, count, size, subject, queue };
}

export const STANDARD: readonly Scenario[] = [
  pubsub('1-pub-only-16B', 10_000_000, 1, 0, 16, 'bench.s1'),
  pubsub('2-pubsub-1to1-16B', 3_000_000, 1, 1, 16, 'bench.s2'),
  pubsub('3-pubsub-1to1-128B', 2_000_000, 1, 1, 128, 'bench.s3'),
  pubsub('4-pubsub-1to1-1024B', 600_000, 1, 1, 1024, 'bench.s4'),
  pubsub('5-fanout-1to4-128B', 1_000_000, 1, 4, 128, 'bench.s5'),
  pubsub('6-pubsub-4to4-128B', 800_000, 4, 4, 128, 'bench.s6'),
  pubsub('7-queue-1to4q-128B', 2_000_000, 1, 4, 128, 'bench.s7', 'bq'),
  { name: '8-req-reply-16B', kind: 'req', publishers: 1, subscribers: 0, count: 10_000, size: 16, subject: 'bench.s8', queue: null },
];

/** 1→1 across payload sizes; counts keep each run to a similar byte volume. */
export const SIZES: readonly Scenario[] = [
  pubsub('size-1to1-16B', 3_000_000, 1, 1, 16, 'bench.z16'),
  pubsub('size-1to1-128B', 2_000_000, 1, 1, 128, 'bench.z128'),
  pubsub('size-1to1-1KiB', 600_000, 1, 1, 1024, 'bench.z1k'),
  pubsub('size-1to1-4KiB', 200_000, 1, 1, 4096, 'bench.z4k'),
  pubsub('size-1to1-16KiB', 60_000, 1, 1, 16384, 'bench.z16k'),
  pubsub('size-1to1-64KiB', 16_000, 1, 1, 65536, 'bench.z64k'),
];

export const SUITES: Readonly<Record<string, readonly Scenario[]>> = {
  standard: STANDARD,
  sizes: SIZES,
  all: [...STANDARD, ...SIZES],
};

/**
 * `standard`, `sizes`, `all`, or a comma list of scenario names or their leading numbers
 * (`2,5,8`, `8-req-reply-16B`, `size-1to1-64KiB`).
 */
export function selectScenarios(spec: string): Scenario[] {
  const chosen: Scenario[] = [];
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const suite = SUITES[part];
    if (suite) {
      chosen.push(...suite);
      continue;
    }
    const match = SUITES.all.find((s) => s.name === part || s.name.startsWith(`${part}-`));
    if (!match) throw new Error(`unknown scenario "${part}" (known: ${Object.keys(SUITES).join(', ')}, ${SUITES.all.map((s) => s.name).join(', ')})`);
    chosen.push(match);
  }
  return chosen.filter((s, i) => chosen.indexOf(s) === i);
}

/** bench.sh's SCALE: every count multiplied, never below 100. */
export function scaled(scenario: Scenario, scale: number): Scenario {
  return { ...scenario, count: Math.max(100, Math.floor(scenario.count * scale)) };
}

export type Status = 'ok' | 'TIMECAP' | 'INCOMPLETE' | 'PUBERR' | 'ERRORS' | 'FAILED';

/** One run of one scenario against one broker; the same shape whichever generator produced it. */
export interface ScenarioResult {
  scenario: string;
  kind: 'pubsub' | 'req';
  generator: 'node' | 'nbench';
  status: Status;
  /** Headline: delivered msgs/s (pubsub with subscribers), published msgs/s (publish only), round trips/s (req). */
  msgsPerSec: number;
  pubMsgsPerSec?: number;
  sent?: number;
  delivered?: number;
  expected?: number;
  perSubscriberMin?: number;
  perSubscriberMax?: number;
  /** Round-trip latency percentiles in microseconds (req). */
  p50Us?: number;
  p90Us?: number;
  p99Us?: number;
  maxUs?: number;
  done?: number;
  seconds: number;
  message?: string;
}

/** Did the run deliver everything it published (TIMECAP runs count what was sent)? */
export function lossless(result: ScenarioResult): boolean {
  return result.status === 'ok' || result.status === 'TIMECAP';
}
