// Serves the dashboard: index.html with an import map, the UI sources (plain ES modules and CSS in
// src/dashboard/, found from the package root so they serve the same from src and from dist/), and
// the three vendor modules straight from node_modules. No bundler: `npm install && npm start` is all.
// The dashboard itself is public static files; every piece of data comes from the /v1 API, with
// the key the user signs in with.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

const require = createRequire(import.meta.url);

/** The package root: the nearest directory up from this file with a package.json and src/dashboard/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'dashboard', 'index.html'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('dashboard: cannot find src/dashboard/ above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

const TYPES: Record<string, string> = {
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

function vendorFiles(): Record<string, string> {
  const pkg = (name: string) => dirname(require.resolve(`${name}/package.json`));
  const preact = pkg('preact');
  const uplot = pkg('uplot');
  return {
    'preact.mjs': join(preact, 'dist', 'preact.mjs'),
    'hooks.mjs': join(preact, 'hooks', 'dist', 'hooks.mjs'),
    // htm's package.json is not exported; its entry sits beside the ES module build.
    'htm.mjs': join(dirname(require.resolve('htm')), 'htm.mjs'),
    'uplot.mjs': join(uplot, 'dist', 'uPlot.esm.js'),
    'uplot.css': join(uplot, 'dist', 'uPlot.min.css'),
  };
}

export const IMPORT_MAP = {
  imports: {
    preact: '/dashboard/vendor/preact.mjs',
    'preact/hooks': '/dashboard/vendor/hooks.mjs',
    htm: '/dashboard/vendor/htm.mjs',
    uplot: '/dashboard/vendor/uplot.mjs',
  },
};

export function dashboardRoutes(app: FastifyInstance): void {
  const root = join(packageRoot(), 'src', 'dashboard');
  const vendor = vendorFiles();
  const map = JSON.stringify(IMPORT_MAP);
  const html = readFileSync(join(root, 'index.html'), 'utf8').replace('<!--IMPORTMAP-->', `<script type="importmap">${map}</script>`);
  // The one inline script (the import map) is allowed by its hash; nothing else inline runs.
  const csp = [
    "default-src 'self'", `script-src 'self' 'sha256-${createHash('sha256').update(map).digest('base64')}'`,
    "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
  ].join('; ');
  const cache = new Map<string, Buffer>();
  const send = (reply: FastifyReply, path: string, type: string, maxAge: number) => {
    let body = cache.get(path);
    if (!body) {
      if (!existsSync(path)) return reply.code(404).send({ error: { code: 'not_found', message: 'no such dashboard file', details: {} } });
      body = readFileSync(path);
      // Sources may change under a developer; vendor files only with a reinstall.
      if (maxAge > 0) cache.set(path, body);
    }
    return reply.type(type).header('cache-control', maxAge > 0 ? `public, max-age=${maxAge}` : 'no-cache').header('x-content-type-options', 'nosniff').send(body);
  };
  const pub = { role: 'public' as const, hidden: true };

  app.get('/dashboard', { config: pub }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').header('content-security-policy', csp).header('referrer-policy', 'no-referrer').send(html));
  app.get('/dashboard/', { config: pub }, async (_req, reply) => reply.redirect('/dashboard'));
  app.get('/dashboard/app/:file', { config: pub }, async (req, reply) => {
    const { file } = req.params as { file: string };
    const ext = /^[a-z0-9-]+(\.[a-z]+)$/.exec(file)?.[1];
    if (!ext || !TYPES[ext]) return reply.code(404).send({ error: { code: 'not_found', message: 'no such dashboard file', details: {} } });
    return send(reply, join(root, file), TYPES[ext], 0);
  });
  app.get('/dashboard/vendor/:file', { config: pub }, async (req, reply) => {
    const { file } = req.params as { file: string };
    const path = vendor[file];
    if (!path) return reply.code(404).send({ error: { code: 'not_found', message: 'no such vendor file', details: {} } });
    return send(reply, path, TYPES[file.slice(file.lastIndexOf('.'))]!, 86_400);
  });
}
