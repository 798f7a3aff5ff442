"""A naive reference for the matcher: every query on every post, no index, no shortcuts.

Written independently of `matcher.evaluate`, straight from the language's
definition, so that the property tests compare two implementations.
"""

from __future__ import annotations

from hubbub.listening.matcher import Post
from hubbub.listening.query import And, Field, Near, Node, Not, Operand, Or, Phrase, Prefix, Term
from hubbub.listening.text import normalize, tokenize, urls_in


def occurrences(node: Operand, tokens: list[str]) -> list[tuple[int, int]]:
    words = node.tokens if isinstance(node, Phrase) else (None,)
    found = []
    for start in range(len(tokens)):
        end = start + len(words) - 1
        if end >= len(tokens):
            break
        if (isinstance(node, Term) and tokens[start] == node.token) or (
            isinstance(node, Prefix) and tokens[start].startswith(node.stem)
        ):
            found.append((start, start))
        elif isinstance(node, Phrase) and tuple(tokens[start : end + 1]) == node.tokens:
            found.append((start, end))
    return found


def host_of(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    return host[4:] if host.startswith("www.") else host


def reference_match(node: Node, post: Post) -> bool:
    tokens = tokenize(post.text)
    if isinstance(node, Term | Phrase | Prefix):
        return bool(occurrences(node, tokens))
    if isinstance(node, Near):
        lefts = [span for operand in node.left for span in occurrences(operand, tokens)]
        rights = [span for operand in node.right for span in occurrences(operand, tokens)]
        for a_start, a_end in lefts:
            for b_start, b_end in rights:
                if a_end < b_start and b_start - a_end - 1 <= node.distance:
                    return True
                if b_end < a_start and a_start - b_end - 1 <= node.distance:
                    return True
        return False
    if isinstance(node, Field):
        hosts = [host_of(url) for url in (post.urls or urls_in(post.text))]
        if node.name == "lang":
            return post.lang.lower() == node.value or post.lang.lower().startswith(node.value + "-")
        if node.name == "platform":
            return post.platform.lower() == node.value
        if node.name == "author":
            return normalize(post.author).lstrip("@") == node.value
        if node.name == "site":
            return any(h == node.value or h.endswith("." + node.value) for h in hosts)
        if node.name == "is":
            return post.is_reply
        return bool(hosts)
    if isinstance(node, Not):
        return not reference_match(node.child, post)
    if isinstance(node, And):
        return all(reference_match(child, post) for child in node.children)
    assert isinstance(node, Or)
    return any(reference_match(child, post) for child in node.children)
