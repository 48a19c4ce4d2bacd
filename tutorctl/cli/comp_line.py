"""The word under the cursor, as a POSIX shell reads it, and completions written so that the
shell reads them back as the values they are: bash (the script ``--show-completion bash``
prints) and ``tutorctl shell``'s readline share it.

Why not the shell's own words: bash splits ``COMP_WORDS`` at ``COMP_WORDBREAKS`` (``:``, ``=``,
quotes…), so ``--db sqlite:///PATH`` reached Click as ``sqlite``, ``:``, ``///PATH``; and it
inserts a completion as typed, so ``english, conv.`` became two words. Here the line up to the
cursor is split the way the command will be (``shlex``), and each completion is the text
readline replaces (what bash passes as ``$2``; after a ``:`` or an open quote it is only the
end of the word) followed by the rest of the value, quoted for where the cursor is: backslashes
outside quotes, ``'\\''`` inside single quotes, backslashes before ``"$`\\`` inside double ones.
Only the standard library: a TAB must start fast.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_UNSAFE = re.compile(r"([^\w@%+=:,./-])")  # shlex.quote's safe characters stay as they are
_UNSAFE_IN_DOUBLE = re.compile(r'(["$`\\])')


def split_words(text: str) -> list[str]:
    """Words as a POSIX shell splits them (no comments: a ``#`` is typed, not a comment, while
    completing); an unclosed quote ends the last word."""
    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    words: list[str] = []
    try:
        words.extend(lex)
    except ValueError:  # an open quote or a trailing backslash: the word so far
        words.append(lex.token)
    return words


@dataclass(frozen=True)
class Word:
    """The line up to the cursor: the words before the one under the cursor, that word as
    typed (``raw``) and as the command will read it (``incomplete``), and the quote open at
    the cursor (``'``, ``"`` or none)."""

    before: list[str]
    raw: str
    incomplete: str
    quote: str | None
    escaped: bool  # the word ends with a lone backslash

    def reply(self, value: str, text: str) -> str | None:
        """What replaces ``text`` (the end of the word, as readline delimits it) so that the
        word reads as ``value``; None when ``value`` does not continue what was typed."""
        if "\n" in value:
            return None
        incomplete = self.incomplete
        if not value.startswith(incomplete) and incomplete.startswith("-") and "=" in incomplete:
            value = incomplete.split("=", 1)[0] + "=" + value  # --option=VALUE: Click's value
        if not self.raw.endswith(text):
            return None
        if not value.startswith(incomplete):
            return quote(value) if text == self.raw and not self.quote else None
        rest = value[len(incomplete) :]
        if self.escaped:  # the typed backslash escapes the first character
            return text + rest[:1] + quote_for(rest[1:], self.quote)
        return text + quote_for(rest, self.quote)


def quote(value: str) -> str:
    """``value`` as one word outside quotes (backslashes, as bash's ``printf %q``)."""
    return _UNSAFE.sub(r"\\\1", value)


def quote_for(text: str, open_quote: str | None) -> str:
    """``text`` written to continue a word whose quote ``open_quote`` is open."""
    if open_quote == "'":
        return text.replace("'", "'\\''")
    if open_quote == '"':
        return _UNSAFE_IN_DOUBLE.sub(r"\\\1", text)
    return quote(text)


class _Scan:
    """A POSIX shell's reading of ``line``: which characters are plain (outside quotes, not
    escaped, not a quote themselves), and the quote or backslash left open at its end."""

    def __init__(self, line: str) -> None:
        self.plain: list[bool] = []
        self.quote: str | None = None
        self.escaped = False
        for char in line:
            plain = False
            if self.escaped:
                self.escaped = False
            elif self.quote == "'":
                self.quote = None if char == "'" else self.quote
            elif char == "\\":
                self.escaped = True
            elif self.quote == '"':
                self.quote = None if char == '"' else self.quote
            elif char in "'\"":
                self.quote = char
            else:
                plain = True
            self.plain.append(plain)


def current_word(line: str) -> Word:
    """Scan ``line`` (the text up to the cursor) as a POSIX shell does."""
    scan = _Scan(line)
    start = max((i + 1 for i, c in enumerate(line) if scan.plain[i] and c in " \t\n"), default=0)
    raw = line[start:]
    words = split_words(raw[:-1] if scan.escaped else raw)
    incomplete = words[0] if words else ""
    return Word(split_words(line[:start]), raw, incomplete, scan.quote, scan.escaped)


def strip_comment(line: str) -> str:
    """``line`` without its comment: from a ``#`` that begins a word outside quotes to the
    end, as a POSIX shell reads it (a ``#`` inside a word, ``Room#3``, or quoted is kept)."""
    scan = _Scan(line)
    for i, char in enumerate(line):
        starts_word = i == 0 or (scan.plain[i - 1] and line[i - 1] in " \t")
        if char == "#" and scan.plain[i] and starts_word:
            return line[:i]
    return line


# -- bash --------------------------------------------------------------------------------------

# The line up to the cursor (COMP_LINE, COMP_POINT) and the text readline replaces ($2); the
# replies read line by line into COMPREPLY (no word splitting, no globbing of a reply; `read`
# and `+=`, not mapfile, for the bash 3.2 of macOS). Without replies, bash completes file names.
BASH_SCRIPT = """
%(complete_func)s() {
    local reply
    COMPREPLY=()
    while IFS= read -r reply; do
        COMPREPLY+=("$reply")
    done < <(env COMP_LINE="${COMP_LINE:0:COMP_POINT}" COMP_TEXT="$2" \\
                 %(autocomplete_var)s=complete_bash "$1" 2>/dev/null)
    return 0
}

complete -o default -F %(complete_func)s %(prog_name)s
"""


def install_bash() -> None:
    """Make ``--show-completion bash``/``--install-completion bash`` print this module's
    script, and a completing process answer it (after Typer registered its own class)."""
    from typer import _completion_classes, _completion_shared
    from typer._click.shell_completion import add_completion_class

    class BashComplete(_completion_classes.BashComplete):
        source_template = BASH_SCRIPT

        def complete(self) -> str:
            import os

            line = os.environ.get("COMP_LINE")
            if line is None:  # a script installed by an older tutorctl: Typer's words
                return str(super().complete())
            word = current_word(line)
            items = self.get_completions(word.before[1:], word.incomplete)
            text = os.environ.get("COMP_TEXT", "")
            replies = (word.reply(item.value, text) for item in items)
            return "\n".join(reply for reply in replies if reply is not None)

    _completion_shared._completion_scripts["bash"] = BASH_SCRIPT
    add_completion_class(BashComplete, "bash")
