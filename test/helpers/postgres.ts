// A real PostgreSQL server for the PostgreSQL suites (`npm run test:pg`): a throwaway cluster made with Debian's
// `initdb` in a temporary folder and started with `pg_ctl` on a free loopback port. Nothing is downloaded: when
// the binaries are missing the suite fails with the command that installs them (CI must run these, never skip).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PostgresServer {
  /** `postgres://cosell@127.0.0.1:<port>/cosell` (trust authentication on loopback only). */
  url: string;
  /** A URL of another, new and empty, database on the same server. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Where Debian's `postgresql` package puts its server binaries (not on PATH), newest version first. */
function binDir(): string {
  const fromEnv = process.env['COSELL_PG_BIN'];
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries were not found (initdb, pg_ctl). Install them: apt-get update && apt-get install -y postgresql (or set COSELL_PG_BIN to their folder).',
    );
  }
  return join(root, versions[0]!, 'bin');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** initdb refuses to run as root: as root the cluster belongs to the `postgres` user the package creates. */
async function asServerUser(bin: string, args: string[]): Promise<void> {
  const root = process.getuid?.() === 0;
  const [command, argv] = root ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  await run(command, argv, { timeout: 60_000 });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = await mkdtemp(join(tmpdir(), 'cosell-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  // --no-sync: a test cluster need not survive a power cut; fsync stays on in the server (the store's
  // durability is what the suites exercise).
  await asServerUser(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'cosell',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  const port = await freePort();
  await asServerUser(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-o',
    `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c max_connections=200`,
    'start',
  ]);
  const base = `postgres://cosell@127.0.0.1:${port}`;
  const createDatabase = async (name: string) => {
    const client = new pg.Client({ connectionString: `${base}/postgres` });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } finally {
      await client.end();
    }
    return `${base}/${name}`;
  };
  return {
    url: await createDatabase('cosell'),
    createDatabase,
    async stop() {
      await asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
