/**
 * A module resolve hook (registered with `module.register`) so that a handler
 * file anywhere on disk can `import ... from 'restpipe'` even when no
 * node_modules above it holds restpipe: the import falls back to this install.
 */
interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

let restpipeUrl = '';

export function initialize(data: { restpipeUrl: string }): void {
  restpipeUrl = data.restpipeUrl;
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string }> {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (specifier === 'restpipe' && restpipeUrl) return next(restpipeUrl, context);
    throw error;
  }
}
