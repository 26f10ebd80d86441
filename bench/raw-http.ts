// A minimal HTTP/1.1 keep-alive client over one socket, for the many-clients run: node's
// own http client costs about 0.4 ms of CPU per request on these cores, as much as
// Postgres's share of a 10-entry batch, and the load generator shares the machine with
// the server it measures. Requests are pre-built byte strings; a response is read as far
// as its status line and Content-Length says, nothing more.
import { connect, type Socket } from 'node:net';

export class RawHttpConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (response: RawResponse) => void; reject: (error: Error) => void } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.tryComplete();
    });
    const fail = (error: Error) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the server closed the connection')));
  }

  static open(host: string, port: number): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new RawHttpConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends a whole request (head and body); resolves with the response's status code and body. */
  send(request: Buffer): Promise<RawResponse> {
    if (this.waiting) throw new Error('one request at a time on a connection');
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private tryComplete(): void {
    const headEnd = this.buffered.indexOf('\r\n\r\n');
    if (headEnd < 0 || !this.waiting) return;
    const head = this.buffered.subarray(0, headEnd).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.waiting.reject(new Error(`a response without Content-Length: ${head.slice(0, 200)}`));
      this.waiting = undefined;
      return;
    }
    const end = headEnd + 4 + Number(length[1]);
    if (this.buffered.length < end) return;
    const status = Number(head.slice(9, 12));
    const body = this.buffered.subarray(headEnd + 4, end);
    this.buffered = this.buffered.subarray(end);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting.resolve({ status, body });
  }
}

export interface RawResponse {
  status: number;
  body: Buffer;
}

/** A POST request as bytes, ready to write. */
export function postRequest(target: URL, headers: Record<string, string>, body: string): Buffer {
  const bodyBytes = Buffer.from(body);
  const lines = [`POST ${target.pathname} HTTP/1.1`, `host: ${target.host}`, `content-length: ${bodyBytes.length}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), bodyBytes]);
}
