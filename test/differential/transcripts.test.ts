/**
 * Plays every transcript in transcripts/*.json against nats-server (the reference) and Natrium and
 * requires the same replies, step by step (INFO compared by key set and shared values). Transcripts
 * marked "split" are also played against Natrium with every send cut at each offset, cut into random
 * chunks and sent byte by byte, and must still give the reference's replies. Each group of transcripts sharing options also
 * compares the INFO greeting's key set once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNatsServer, type ReferenceOptions, type RunningNatsServer } from '../helpers/nats-server.js';
import { startTestServer } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { infoShape, loadTranscripts, longestSend, playTranscript, type SendMode, type Transcript } from './harness.js';

const WHOLE: SendMode = { kind: 'whole' };
/** Reproducible random chunkings per split transcript, on top of every two-part split. */
const RANDOM_CHUNKINGS = 10;
/** A hang fails the test instead of stalling the run. */
const TEST_TIMEOUT_MS = 60_000;

interface Broker {
  port: number;
  close(): Promise<void>;
}

const groups = new Map<string, Transcript[]>();
for (const transcript of loadTranscripts()) {
  const key = JSON.stringify(transcript.options ?? {});
  groups.set(key, [...(groups.get(key) ?? []), transcript]);
}

for (const [key, transcripts] of groups) {
  const options = JSON.parse(key) as ReferenceOptions;
  describe(`transcripts with options ${key}`, { timeout: 5 * TEST_TIMEOUT_MS }, () => {
    let reference: RunningNatsServer;
    let natrium: Broker;
    /** The reference replies, played once per transcript. */
    const expectedByName = new Map<string, string[]>();

    before(async () => {
      [reference, natrium] = await Promise.all([startNatsServer(options), startTestServer(options)]);
    });
    after(async () => {
      await Promise.all([reference?.close(), natrium?.close()]);
    });

    async function expected(transcript: Transcript): Promise<string[]> {
      let lines = expectedByName.get(transcript.name);
      if (!lines) {
        lines = await playTranscript(reference.port, transcript, WHOLE);
        const broken = lines.find((line) => line.includes('TIMEOUT'));
        assert.equal(broken, undefined, `the transcript itself is wrong: nats-server timed out (${transcript.file})`);
        expectedByName.set(transcript.name, lines);
      }
      return lines;
    }

    test('INFO greeting: the same keys, value types and shared values', { timeout: TEST_TIMEOUT_MS }, async () => {
      const [ours, theirs] = await Promise.all([RawClient.connect(natrium.port), RawClient.connect(reference.port)]);
      try {
        assert.deepEqual(infoShape(ours.info), infoShape(theirs.info), 'INFO keys and value types differ from nats-server');
        for (const key of ['proto', 'headers', 'max_payload', 'host', 'client_ip']) {
          assert.deepEqual(ours.info[key], theirs.info[key], `INFO ${key}`);
        }
        assert.equal(ours.info['port'], natrium.port, 'INFO port is the listening port');
      } finally {
        await Promise.all([ours.close(), theirs.close()]);
      }
    });

    for (const transcript of transcripts) {
      test(transcript.name, { timeout: TEST_TIMEOUT_MS }, async () => {
        const want = await expected(transcript);
        const got = await playTranscript(natrium.port, transcript, WHOLE);
        assert.deepEqual(got, want, `${transcript.file}: "${transcript.name}" differs from nats-server`);
      });

      if (!transcript.split) continue;
      test(`${transcript.name} [sends split at every offset, in random chunks, byte by byte]`, { timeout: TEST_TIMEOUT_MS }, async () => {
        const want = await expected(transcript);
        for (let at = 1; at < longestSend(transcript); at++) {
          const got = await playTranscript(natrium.port, transcript, { kind: 'splitAt', at });
          assert.deepEqual(got, want, `${transcript.file}: "${transcript.name}" split at offset ${at} differs from nats-server`);
        }
        for (let seed = 1; seed <= RANDOM_CHUNKINGS; seed++) {
          const got = await playTranscript(natrium.port, transcript, { kind: 'chunks', seed });
          assert.deepEqual(got, want, `${transcript.file}: "${transcript.name}" cut into random chunks (seed ${seed}) differs from nats-server`);
        }
        const bytewise = await playTranscript(natrium.port, transcript, { kind: 'bytewise' });
        assert.deepEqual(bytewise, want, `${transcript.file}: "${transcript.name}" sent byte by byte differs from nats-server`);
        // The reference must agree with itself too, or the transcript is not split-safe.
        const referenceBytewise = await playTranscript(reference.port, transcript, { kind: 'bytewise' });
        assert.deepEqual(referenceBytewise, want, 'the transcript itself is wrong: nats-server differs when sent byte by byte');
      });
    }
  });
}
