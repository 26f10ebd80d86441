import type { MongoClient } from 'mongodb';
import type { PoolStats } from '../core/admin-store.ts';

/**
 * The driver's connection pools (one per server of the deployment, summed), counted from
 * its connection pool monitoring events: the driver has no public accessor for them, and
 * the events cost a counter each. Monitoring connections are not in a pool, so not here.
 */
export class PoolCounter {
  private open = 0;
  private checkedOut = 0;
  private waiting = 0;

  constructor(client: MongoClient) {
    client.on('connectionCreated', () => this.open++);
    // Also after a connection that failed its handshake: it was counted as created.
    client.on('connectionClosed', () => this.open--);
    client.on('connectionCheckOutStarted', () => this.waiting++);
    client.on('connectionCheckOutFailed', () => this.waiting--);
    client.on('connectionCheckedOut', () => {
      this.waiting--;
      this.checkedOut++;
    });
    client.on('connectionCheckedIn', () => this.checkedOut--);
  }

  stats(): PoolStats {
    const total = Math.max(0, this.open);
    return { total, idle: Math.max(0, total - this.checkedOut), waiting: Math.max(0, this.waiting) };
  }
}
