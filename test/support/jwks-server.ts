import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';

/** What the key server answers next. */
export type JwksAnswer =
  | { keys: JWK[] }
  /** Any status with a body, e.g. 500, or 200 with text that is not a JWKS. */
  | { status: number; body?: string }
  /** Takes the request and never answers (a timeout). */
  | { hang: true };

export interface JwksServer {
  /** `http://127.0.0.1:<port>/jwks.json` */
  url: string;
  /** Requests received so far. */
  requests: number;
  answer(next: JwksAnswer): void;
  /** Stops listening: from then on connections are refused. */
  close(): Promise<void>;
}

/** A JWKS server on 127.0.0.1 and a random port whose answer a test changes at will. */
export async function startJwksServer(initial: JwksAnswer): Promise<JwksServer> {
  let current = initial;
  const sockets = new Set<Socket>();
  const server: Server = createServer((_request, response) => {
    state.requests += 1;
    respond(response, current);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const state: JwksServer = {
    url: `http://127.0.0.1:${port}/jwks.json`,
    requests: 0,
    answer: (next) => {
      current = next;
    },
    close: async () => {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  return state;
}

function respond(response: ServerResponse, answer: JwksAnswer): void {
  if ('hang' in answer) return;
  if ('keys' in answer) {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: answer.keys }));
    return;
  }
  response.writeHead(answer.status, { 'content-type': 'application/json' });
  response.end(answer.body ?? '');
}
