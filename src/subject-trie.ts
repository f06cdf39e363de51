/**
 * A token trie of wildcard subject patterns, so finding the patterns that match a subject costs
 * O(tokens × wildcard branches), never O(patterns): with one `dashboard.user.<id>.>` pattern per user,
 * a scan would cost every event thousands of comparisons.
 */

class TrieNode<T> {
  children: Map<string, TrieNode<T>> | undefined
  star: TrieNode<T> | undefined
  /** Values of patterns ending exactly here. */
  here: Set<T> | undefined
  /** Values of patterns ending with `>` right after this node. */
  tail: Set<T> | undefined
  get empty (): boolean {
    return this.children === undefined && this.star === undefined && this.here === undefined && this.tail === undefined
  }
}

export class SubjectTrie<T> {
  readonly #root = new TrieNode<T>()
  #patterns = 0

  get patterns (): number { return this.#patterns }

  /** The set of values stored for `pattern` (created when missing); `created` tells if the pattern is new. */
  add (pattern: string, value: T): boolean {
    let node = this.#root
    const tokens = pattern.split('.')
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]
      if (t === '>') {
        const created = node.tail === undefined
        if (created) { node.tail = new Set(); this.#patterns++ }
        node.tail!.add(value)
        return created
      }
      if (t === '*') node = (node.star ??= new TrieNode())
      else {
        node.children ??= new Map()
        let next = node.children.get(t)
        if (next === undefined) { next = new TrieNode(); node.children.set(t, next) }
        node = next
      }
    }
    const created = node.here === undefined
    if (created) { node.here = new Set(); this.#patterns++ }
    node.here!.add(value)
    return created
  }

  /** Removes `value` from `pattern`; returns true when the pattern has no values left (and was pruned). */
  remove (pattern: string, value: T): boolean {
    return this.#remove(this.#root, pattern.split('.'), 0, value) === 'gone'
  }

  #remove (node: TrieNode<T>, tokens: string[], i: number, value: T): 'gone' | 'kept' | 'absent' {
    if (i === tokens.length || tokens[i] === '>') {
      const key = i === tokens.length ? 'here' : 'tail'
      const set = node[key]
      if (set === undefined || !set.delete(value)) return 'absent'
      if (set.size > 0) return 'kept'
      node[key] = undefined
      this.#patterns--
      return 'gone'
    }
    const t = tokens[i]
    const child = t === '*' ? node.star : node.children?.get(t)
    if (child === undefined) return 'absent'
    const r = this.#remove(child, tokens, i + 1, value)
    if (r === 'gone' && child.empty) {
      if (t === '*') node.star = undefined
      else {
        node.children!.delete(t)
        if (node.children!.size === 0) node.children = undefined
      }
    }
    return r
  }

  /** Calls `fn` with the value set of every pattern matching the literal subject `tokens`. */
  match (tokens: readonly string[], fn: (values: Set<T>) => void): void {
    this.#match(this.#root, tokens, 0, fn)
  }

  #match (node: TrieNode<T>, tokens: readonly string[], i: number, fn: (values: Set<T>) => void): void {
    if (i === tokens.length) {
      if (node.here !== undefined) fn(node.here)
      return
    }
    if (node.tail !== undefined) fn(node.tail)
    const child = node.children?.get(tokens[i])
    if (child !== undefined) this.#match(child, tokens, i + 1, fn)
    if (node.star !== undefined) this.#match(node.star, tokens, i + 1, fn)
  }
}
