/**
 * The product version: package.json's `version`, read once. Used by `picloud --version`, the `user-agent` of
 * outbound requests and `/healthz`. src/common/ and dist/common/ both sit two levels below the package root.
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
