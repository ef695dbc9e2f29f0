/**
 * API tokens over the API (admin tokens only, `picloud tokens:*`):
 *   GET    /api/v1/tokens                 {tokens}  (names, roles, ids; never the secrets)
 *   POST   /api/v1/tokens {name, role?}   201 {name, role, token}  (the only time the token is shown)
 *   DELETE /api/v1/tokens/:id             {deleted, name}  (the last admin token cannot be deleted)
 * A deleted token stops working on this node at once and on every other node through the verifier's NOTIFY.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../common/errors.ts';
import { deleteToken, listTokens } from '../db/dashboard.ts';
import { insertToken, newToken } from '../db/tokens.ts';
import { badRequest, principal, type ApiContext } from './api-shared.ts';
import type { TokenVerifier } from './auth.ts';

const ROLES = ['admin', 'read'] as const;

export interface TokenRoutesOptions extends ApiContext {
  verifier: TokenVerifier;
}

export async function tokenRoutes(api: FastifyInstance, opts: TokenRoutesOptions): Promise<void> {
  const { pool, log, verifier } = opts;

  api.get('/tokens', async (req) => {
    if (principal(req).role !== 'admin') throw new AppError('AUTH_FORBIDDEN', 'only admin tokens may list tokens');
    return { tokens: await listTokens(pool) };
  });

  api.delete<{ Params: { id: string } }>('/tokens/:id', async (req) => {
    const p = principal(req);
    if (p.role !== 'admin') throw new AppError('AUTH_FORBIDDEN', 'only admin tokens may delete tokens');
    if (!/^\d{1,15}$/.test(req.params.id)) throw badRequest('token id must be a number (see GET /api/v1/tokens)');
    const r = await deleteToken(pool, Number(req.params.id));
    if (r === null) throw new AppError('TOKEN_NOT_FOUND', `no token with id ${req.params.id}`);
    if (r === 'last-admin') throw new AppError('AUTH_FORBIDDEN', 'refusing to delete the last admin token');
    verifier.forgetTokenId(Number(req.params.id));
    log.info({ id: Number(req.params.id), name: r.name, by: p.name }, 'token deleted');
    return { deleted: Number(req.params.id), name: r.name };
  });

  api.post('/tokens', async (req, reply) => {
    const p = principal(req);
    if (p.role !== 'admin') throw new AppError('AUTH_FORBIDDEN', 'only admin tokens may create tokens');
    const body = (req.body ?? {}) as { name?: unknown; role?: unknown };
    if (typeof body.name !== 'string' || !/^[\w.@-]{1,64}$/.test(body.name)) throw badRequest('name must be 1-64 characters of letters, digits, _ . @ -');
    const role = body.role === undefined ? 'admin' : body.role;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw badRequest(`role must be one of ${ROLES.join(', ')}`);
    const token = newToken();
    await insertToken(pool, body.name, token, role);
    log.info({ name: body.name, role, by: p.name }, 'token created');
    return reply.code(201).send({ name: body.name, role, token });
  });
}
