/** Subject relations that permissions need beyond matching (nats-server server/sublist.go). */

export function subjectHasWildcard(subject: string): boolean {
  const tokens = subject.split('.');
  return tokens.some((token) => token === '*' || token === '>');
}

/** True when every subject `subject` matches is also matched by `test` (`subject` ⊆ `test`). */
export function subjectIsSubsetMatch(subject: string, test: string): boolean {
  const tokens = subject.split('.');
  const testTokens = test.split('.');
  for (let i = 0; i < testTokens.length; i++) {
    if (i >= tokens.length) return false;
    const t2 = testTokens[i];
    if (t2 === '') return false;
    if (t2 === '>') return true;
    const t1 = tokens[i];
    if (t1 === '' || t1 === '>') return false;
    if (t1 === '*') {
      if (t2 !== '*') return false;
      continue;
    }
    if (t2 !== '*' && t1 !== t2) return false;
  }
  return tokens.length === testTokens.length;
}
