import type { IncomingMessage, ServerResponse } from 'node:http';

/** Response that a matching request gets in place of its normal one. */
export type FaultAction =
  /** Respond with this status and a JSON body `{code, description}` (or the given body). */
  | { readonly kind: 'status'; readonly status: number; readonly body?: unknown }
  /** Read the request but never respond, until the client gives up or the server closes. */
  | { readonly kind: 'hang' }
  /** Destroy the connection without a response. */
  | { readonly kind: 'drop' }
  /** Wait this many milliseconds, then serve the request normally. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Serve the request normally; useful with `before`. */
  | { readonly kind: 'pass' };

/** A rule that applies a fault to the next `times` requests that match it. */
export interface FaultRule {
  /** HTTP method to match, such as `POST`. @defaultValue any method */
  readonly method?: string;
  /**
   * Path to match, without the query string: a string matches paths that end with it
   * (`/uploads` matches upload creation), a regular expression is tested against the path.
   */
  readonly path: string | RegExp;
  /** Number of matching requests the fault applies to. @defaultValue `1` */
  readonly times?: number;
  readonly action: FaultAction;
  /**
   * Called and awaited before the action, with the 1-based number of the match. Tests use it
   * to change state at an exact point of the function's flow.
   */
  readonly before?: (match: number) => unknown;
}

/** A fault as listed by {@link FaultInjector.list}. */
export interface ActiveFault {
  readonly id: number;
  readonly method?: string;
  readonly path: string;
  readonly remaining: number;
  readonly matched: number;
  readonly action: FaultAction['kind'];
}

interface StoredFault {
  readonly id: number;
  readonly rule: FaultRule;
  remaining: number;
  matched: number;
}

function describePath(path: string | RegExp): string {
  return typeof path === 'string' ? path : path.toString();
}

function matches(rule: FaultRule, method: string, pathname: string): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  return typeof rule.path === 'string' ? pathname.endsWith(rule.path) : rule.path.test(pathname);
}

/**
 * Applies injected faults to the emulator's requests. Rules are checked in the order they were
 * added, and the first rule with calls left applies.
 */
export class FaultInjector {
  private faults: StoredFault[] = [];
  private nextId = 1;

  /** Adds a rule and returns its id. */
  add(rule: FaultRule): number {
    const times = rule.times ?? 1;
    if (!Number.isInteger(times) || times < 1) {
      throw new RangeError(`Invalid fault times ${times}: expected a positive integer`);
    }
    const id = this.nextId;
    this.nextId += 1;
    this.faults.push({ id, rule, remaining: times, matched: 0 });
    return id;
  }

  /** Removes one rule, or every rule when no id is given. */
  clear(id?: number): void {
    this.faults = id === undefined ? [] : this.faults.filter((fault) => fault.id !== id);
  }

  /** Returns the rules that still have calls left. */
  list(): ActiveFault[] {
    return this.faults.map((fault) => ({
      id: fault.id,
      method: fault.rule.method,
      path: describePath(fault.rule.path),
      remaining: fault.remaining,
      matched: fault.matched,
      action: fault.rule.action.kind,
    }));
  }

  /**
   * Applies the first matching rule to a request. Returns true when the fault sent the
   * response (or will never send one), false when the request is to be served normally.
   */
  async apply(
    method: string,
    pathname: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<boolean> {
    const fault = this.faults.find(
      (candidate) => candidate.remaining > 0 && matches(candidate.rule, method, pathname),
    );
    if (fault === undefined) return false;
    fault.remaining -= 1;
    fault.matched += 1;
    if (fault.remaining === 0) this.clear(fault.id);

    await fault.rule.before?.(fault.matched);
    const { action } = fault.rule;
    switch (action.kind) {
      case 'pass':
        return false;
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, action.ms));
        return false;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'hang':
        // Consume the body so the client finishes sending and waits for the response.
        req.resume();
        return true;
      case 'status': {
        req.resume();
        const body = action.body ?? {
          code: action.status,
          description: `Injected fault: HTTP ${action.status}`,
        };
        const text = JSON.stringify(body);
        res.writeHead(action.status, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(text),
        });
        res.end(text);
        return true;
      }
    }
  }
}

/**
 * Parses the JSON body of `POST /_faults` into a rule: `{method?, path, pathRegex?, times?,
 * status?, body?, hang?, drop?, delayMs?}`. Exactly one of `status`, `hang`, `drop` or
 * `delayMs` sets the action.
 */
export function parseFaultRule(body: Record<string, unknown>): FaultRule {
  const { method, path, pathRegex, times, status, hang, drop, delayMs } = body;
  if (typeof path !== 'string' || path === '') {
    throw new Error('path is missing: set the path (or with pathRegex: true, a pattern) to match');
  }
  if (method !== undefined && typeof method !== 'string') {
    throw new Error('method must be a string such as "POST"');
  }
  if (times !== undefined && typeof times !== 'number') {
    throw new Error('times must be a positive integer');
  }
  let action: FaultAction;
  if (typeof status === 'number') {
    action = { kind: 'status', status, body: body.body };
  } else if (hang === true) {
    action = { kind: 'hang' };
  } else if (drop === true) {
    action = { kind: 'drop' };
  } else if (typeof delayMs === 'number') {
    action = { kind: 'delay', ms: delayMs };
  } else {
    throw new Error('the action is missing: set status, hang: true, drop: true or delayMs');
  }
  return {
    method,
    path: pathRegex === true ? new RegExp(path) : path,
    times,
    action,
  };
}
