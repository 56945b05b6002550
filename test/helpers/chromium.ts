/**
 * Headless Chromium (Debian `chromium`, installed by .ci/run; CHROMIUM_BIN overrides the path)
 * driven over the DevTools protocol on a pipe (fd 3 in, fd 4 out, NUL-framed JSON): open a page,
 * evaluate expressions in it (awaiting promises), take a screenshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

type Result = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The page's size in CSS pixels, which is also the size of its screenshots. */
export interface Viewport {
  width: number;
  height: number;
}

export class HeadlessChromium {
  /** What the page logged (console API calls and uncaught exceptions), for failure messages. */
  readonly console: string[] = [];
  private nextId = 1;
  private buffered = '';
  private readonly pending = new Map<number, { resolve: (value: Result) => void; reject: (error: Error) => void }>();
  private readonly profile = mkdtempSync(path.join(tmpdir(), 'natrium-chromium-'));
  private readonly child: ChildProcess;
  private sessionId: string | null = null;
  private readonly listeners = new Map<string, (params: Result) => void>();

  constructor(private readonly viewport: Viewport = { width: 1024, height: 700 }) {
    try {
      accessSync(CHROMIUM, constants.X_OK);
    } catch {
      throw new Error(`Chromium not found at ${CHROMIUM}: browser tests need it. Install it with \`apt-get install -y chromium\` (or set CHROMIUM_BIN).`);
    }
    this.child = spawn(
      CHROMIUM,
      ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--remote-debugging-pipe', `--user-data-dir=${this.profile}`, `--window-size=${viewport.width},${viewport.height}`, 'about:blank'],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const fromBrowser = this.child.stdio[4] as Readable;
    fromBrowser.setEncoding('utf8');
    fromBrowser.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let end = this.buffered.indexOf('\0'); end >= 0; end = this.buffered.indexOf('\0')) {
        const message = JSON.parse(this.buffered.slice(0, end)) as Result;
        this.buffered = this.buffered.slice(end + 1);
        if (message.method !== undefined) {
          this.listeners.get(message.method)?.(message.params as Result);
          continue;
        }
        const waiter = this.pending.get(message.id);
        if (waiter === undefined) continue;
        this.pending.delete(message.id);
        if (message.error) waiter.reject(new Error(`${message.error.message} (${message.error.code})`));
        else waiter.resolve(message.result as Result);
      }
    });
    this.child.once('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`chromium exited with ${code}`));
    });
    this.listeners.set('Runtime.consoleAPICalled', (params) => {
      this.console.push((params.args as Result[]).map((arg) => String(arg.value ?? arg.description ?? '')).join(' '));
    });
    this.listeners.set('Runtime.exceptionThrown', (params) => this.console.push(`exception: ${params.exceptionDetails?.exception?.description ?? params.exceptionDetails?.text}`));
  }

  send(method: string, params: object = {}, session = true): Promise<Result> {
    const id = this.nextId++;
    const message: Record<string, unknown> = { id, method, params };
    if (session && this.sessionId !== null) message.sessionId = this.sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.child.stdio[3] as Writable).write(JSON.stringify(message) + '\0');
    });
  }

  /** Opens `url` in a new tab and resolves once its load event fired. */
  async open(url: string): Promise<void> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' }, false);
    ({ sessionId: this.sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }, false));
    await this.send('Page.enable');
    await this.send('Runtime.enable');
    await this.send('Emulation.setDeviceMetricsOverride', { ...this.viewport, deviceScaleFactor: 1, mobile: false });
    const loaded = new Promise<void>((resolve) => this.listeners.set('Page.loadEventFired', () => resolve()));
    await this.send('Page.navigate', { url });
    await loaded;
  }

  /** Evaluates an expression in the page (awaiting it if it is a promise) and returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value as T;
  }

  async screenshot(file: string): Promise<void> {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    writeFileSync(file, Buffer.from(data as string, 'base64'));
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    // Browser.close lets Chromium stop its helper processes before the profile is removed.
    await this.send('Browser.close', {}, false).catch(() => this.child.kill('SIGTERM'));
    await exited;
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}
