"""The message catalogs: extract the English messages, keep the ``.po`` files, compile them.

Two gettext domains, each owned by its shell (docs/architecture/i18n.md):

- ``claimledger-web`` (``api/web/locale``): the templates' ``{% trans %}``/``_()``, ``_``,
  ``N_`` and ``ngettext`` in ``api/web/*.py``, ``tr("...")``/``trNodes("...")``/``trn("...",
  "...", n)`` in ``api/web/static/page.js``, every string of ``static/verdict-words.json``
  (but its ``about``), every string of ``attest/reconciliation.json`` (but its ``about``; the
  pages only, not the browser), the measures' titles (:data:`attest.measures.MEASURES`) and the open
  data's column descriptions (:data:`ledger.SCORECARD_DOCS`, :data:`ledger.RECORD_DOCS`);
- ``claimledger-cli`` (``cli/locale``): ``_``, ``N_`` and ``ngettext`` in ``cli/*.py``.

Usage (from the repository root)::

    python -m scripts.i18n extract            # update every LANG.po: new messages, drop old
    python -m scripts.i18n compile            # .po -> .mo (and the web's browser.json)
    python -m scripts.i18n init de Deutsch 'nplurals=2; plural=(n != 1);'

The ``.mo`` files and ``browser.json`` are committed (a fresh ``pip install`` needs no build
step and no gettext tools); ``tests/web/test_i18n.py`` checks that they are what ``compile``
makes from the ``.po`` files, that the ``.po`` files hold exactly the messages of the sources, and
that the shipped ones translate every message.
"""

from __future__ import annotations

import ast
import json
import re
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Message:
    """One catalog entry: an English ``msgid`` (and ``plural``), its translations, its places."""

    msgid: str
    plural: str | None = None
    strs: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)

    @property
    def translated(self) -> bool:
        """Whether every form is translated."""
        want = 2 if self.plural is not None else 1
        return len(self.strs) >= want and all(self.strs)


@dataclass(frozen=True)
class Domain:
    """A gettext domain: where its catalogs live and which files its messages come from."""

    name: str
    locale: Path
    python: tuple[str, ...]
    templates: str | None = None
    javascript: tuple[str, ...] = ()
    words: str | None = None
    page_words: tuple[str, ...] = ()
    measures: bool = False
    browser: bool = False

    def po(self, lang: str) -> Path:
        return self.locale / lang / "LC_MESSAGES" / f"{self.name}.po"

    def mo(self, lang: str) -> Path:
        return self.locale / lang / "LC_MESSAGES" / f"{self.name}.mo"

    def languages(self) -> list[str]:
        if not self.locale.is_dir():
            return []
        return sorted(p.name for p in self.locale.iterdir() if self.po(p.name).is_file())


WEB = Domain(
    "claimledger-web",
    ROOT / "api/web/locale",
    ("api/web/*.py",),
    templates="api/web/templates",
    javascript=("api/web/static/page.js",),
    words="api/web/static/verdict-words.json",
    page_words=("attest/reconciliation.json",),
    measures=True,
    browser=True,
)
CLI = Domain("claimledger-cli", ROOT / "cli/locale", ("cli/*.py",))
DOMAINS = (WEB, CLI)

# -- extraction ----------------------------------------------------------------------------------

_PY_FUNCS = {"_": 1, "N_": 1, "ngettext": 2}
_JS_CALL = re.compile(r'\b(trn|trNodes|tr)\(\s*("(?:[^"\\]|\\.)*")(?:\s*,\s*("(?:[^"\\]|\\.)*"))?')


def _python(path: Path) -> Iterator[tuple[int, str, str | None]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        n = _PY_FUNCS.get(node.func.id)
        if n is None:
            continue
        args = node.args[:n]
        if any(isinstance(a, (ast.JoinedStr, ast.BinOp)) for a in args):
            raise SystemExit(f"{path}:{node.lineno}: {node.func.id}() of a computed string")
        if len(args) != n or not all(
            isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args
        ):
            continue  # a message marked elsewhere (N_, a data file), translated here
        texts = [str(a.value) for a in args if isinstance(a, ast.Constant)]
        yield node.lineno, texts[0], texts[1] if n == 2 else None


def _templates(folder: Path) -> Iterator[tuple[str, int, str, str | None]]:
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # as the pages
    env.policies["ext.i18n.trimmed"] = True  # as api/web/pages.py renders them
    for path in sorted(folder.glob("*.html")):
        # extract_translations is added to the Environment by the i18n extension
        found = env.extract_translations(path.read_text())  # type: ignore[attr-defined]
        for lineno, func, message in found:
            parts = (message,) if isinstance(message, str) else tuple(message)
            parts = parts[: 2 if func == "ngettext" else 1]  # the rest: keyword arguments
            if len(parts) != (2 if func == "ngettext" else 1) or not all(
                isinstance(p, str) for p in parts
            ):
                raise SystemExit(f"{path}:{lineno}: a message must be a literal string")
            yield (
                str(path.relative_to(ROOT)),
                lineno,
                str(parts[0]),
                str(parts[1]) if func == "ngettext" else None,
            )


def _javascript(path: Path) -> Iterator[tuple[int, str, str | None]]:
    text = path.read_text()
    for m in _JS_CALL.finditer(text):
        lineno = text.count("\n", 0, m.start()) + 1
        one = json.loads(m.group(2))
        many = json.loads(m.group(3)) if m.group(3) else None
        if (m.group(1) == "trn") != (many is not None):
            raise SystemExit(f"{path}:{lineno}: tr() and trNodes() take one literal, trn() two")
        yield lineno, one, many


def _words(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "about":
                yield from _words(v)


def browser_msgids(domain: Domain) -> set[str]:
    """The messages the browser needs (page.js and verdict-words.json)."""
    out: set[str] = set()
    for js in domain.javascript:
        out.update(one for _, one, _many in _javascript(ROOT / js))
    if domain.words:
        out.update(_words(json.loads((ROOT / domain.words).read_text())))
    return out


def extract(domain: Domain) -> dict[str, Message]:
    """Every message of ``domain``'s sources, in source order, with where it is used."""
    found: dict[str, Message] = {}

    def add(ref: str, msgid: str, plural: str | None) -> None:
        if not msgid:
            raise SystemExit(f"{ref}: an empty message")
        msg = found.setdefault(msgid, Message(msgid, plural))
        if msg.plural != plural:
            raise SystemExit(f"{ref}: {msgid!r} used with and without a plural")
        msg.refs.append(ref)

    for pattern in domain.python:
        for path in sorted(ROOT.glob(pattern)):
            rel = str(path.relative_to(ROOT))
            for lineno, one, many in _python(path):
                add(f"{rel}:{lineno}", one, many)
    if domain.templates:
        for rel, lineno, one, many in _templates(ROOT / domain.templates):
            add(f"{rel}:{lineno}", one, many)
    for js in domain.javascript:
        for lineno, one, many in _javascript(ROOT / js):
            add(f"{js}:{lineno}", one, many)
    if domain.words:
        for text in _words(json.loads((ROOT / domain.words).read_text())):
            add(domain.words, text, None)
    for words in domain.page_words:
        for text in _words(json.loads((ROOT / words).read_text())):
            add(words, text, None)
    if domain.measures:
        from attest.measures import MEASURES
        from ledger import RECORD_DOCS, SCORECARD_DOCS

        for spec in MEASURES.values():
            add("attest/measures.py", spec.title, None)
        for _name, kind, text in (*SCORECARD_DOCS, *RECORD_DOCS):
            add("ledger/_opendata.py", kind, None)
            add("ledger/_opendata.py", text, None)
    return found


# -- .po files -----------------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def _unquote(text: str) -> str:
    out = json.loads(text)
    if not isinstance(out, str):
        raise ValueError(text)
    return out


def read_po(path: Path) -> tuple[str, dict[str, Message]]:
    """The header and the messages of a ``.po`` file (the subset this script writes)."""
    header = ""
    messages: dict[str, Message] = {}
    current: Message | None = None
    key = ""
    refs: list[str] = []

    def finish() -> None:
        nonlocal header, current
        if current is None:
            return
        if current.msgid == "":
            header = current.strs[0] if current.strs else ""
        else:
            messages[current.msgid] = current
        current = None

    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line:
            finish()
        elif line.startswith("#:"):
            refs.extend(line[2:].split())
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if current is None:
                raise SystemExit(f"{path}:{n}: a string outside an entry")
            more = _unquote(line)
            if key == "msgid":
                current.msgid += more
            elif key == "msgid_plural":
                current.plural = (current.plural or "") + more
            else:
                current.strs[-1] += more
        else:
            word, _sp, rest = line.partition(" ")
            if word == "msgid":
                finish()
                current = Message(_unquote(rest), refs=refs)
                refs = []
            elif current is None:
                raise SystemExit(f"{path}:{n}: {word} before msgid")
            elif word == "msgid_plural":
                current.plural = _unquote(rest)
            elif word == "msgstr" or word.startswith("msgstr["):
                current.strs.append(_unquote(rest))
            else:
                raise SystemExit(f"{path}:{n}: unknown keyword {word}")
            key = word if word.startswith("msgid") else "msgstr"
    finish()
    return header, messages


def write_po(path: Path, header: str, messages: Iterable[Message]) -> None:
    """Write a ``.po`` file: the header, then each message with where it is used."""
    lines = ['msgid ""', "msgstr " + _quote(header), ""]
    for m in messages:
        lines.extend(f"#: {r}" for r in m.refs)
        lines.append("msgid " + _quote(m.msgid))
        if m.plural is not None:
            lines.append("msgid_plural " + _quote(m.plural))
            strs = m.strs + [""] * (2 - len(m.strs))
            lines.extend(f"msgstr[{i}] {_quote(s)}" for i, s in enumerate(strs))
        else:
            lines.append("msgstr " + _quote(m.strs[0] if m.strs else ""))
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def header_field(header: str, name: str) -> str:
    """A field of a catalog's header (``Plural-Forms``, ``X-Language-Name``...)."""
    for line in header.splitlines():
        key, _sep, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


def update(domain: Domain, lang: str) -> list[str]:
    """Rewrite ``lang``'s ``.po`` with the sources' messages (keeping translations); the
    messages it lacks a translation for."""
    header, old = read_po(domain.po(lang))
    merged: list[Message] = []
    for msgid, fresh in extract(domain).items():
        before = old.get(msgid)
        if before is not None and before.plural == fresh.plural:
            fresh.strs = before.strs
        merged.append(fresh)
    write_po(domain.po(lang), header, merged)
    return [m.msgid for m in merged if not m.translated]


# -- compiling -----------------------------------------------------------------------------------


def mo_bytes(header: str, messages: Iterable[Message]) -> bytes:
    """The GNU ``.mo`` form of a catalog (translated entries only), as ``msgfmt`` lays it out
    (no hash table: readers search the sorted table)."""
    pairs: list[tuple[bytes, bytes]] = [(b"", header.encode())]
    for m in messages:
        if not m.translated:
            continue
        msgid = m.msgid if m.plural is None else m.msgid + "\0" + m.plural
        pairs.append((msgid.encode(), "\0".join(m.strs).encode()))
    pairs.sort()
    n = len(pairs)
    ids_at, strs_at = 28, 28 + 8 * n
    data_at = 28 + 16 * n
    table_ids: list[int] = []
    table_strs: list[int] = []
    blob = b""
    for original, _value in pairs:
        table_ids += [len(original), data_at + len(blob)]
        blob += original + b"\0"
    for _original, value in pairs:
        table_strs += [len(value), data_at + len(blob)]
        blob += value + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, n, ids_at, strs_at, 0, data_at)
    return (
        head + struct.pack(f"<{2 * n}I", *table_ids) + struct.pack(f"<{2 * n}I", *table_strs) + blob
    )


_PLURAL_RULES = {"(n != 1)": "ne1", "(n > 1)": "gt1"}


def browser_json(domain: Domain, header: str, messages: dict[str, Message]) -> bytes:
    """The browser's part of a web catalog: its plural rule and the messages page.js needs."""
    rule = header_field(header, "Plural-Forms").partition("plural=")[2].rstrip(";").strip()
    if rule not in _PLURAL_RULES:
        raise SystemExit(f"the browser knows the plural rules {sorted(_PLURAL_RULES)}, not {rule}")
    wanted = browser_msgids(domain)
    out: dict[str, object] = {}
    for msgid in sorted(wanted):
        m = messages.get(msgid)
        if m is not None and m.translated:
            out[msgid] = m.strs if m.plural is not None else m.strs[0]
    doc = {"plural": _PLURAL_RULES[rule], "messages": out}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=0).encode() + b"\n"


def compiled(domain: Domain, lang: str) -> dict[Path, bytes]:
    """What ``compile`` writes for ``lang``: the ``.mo`` (and the web's ``browser.json``)."""
    header, messages = read_po(domain.po(lang))
    out = {domain.mo(lang): mo_bytes(header, messages.values())}
    if domain.browser:
        out[domain.locale / lang / "browser.json"] = browser_json(domain, header, messages)
    return out


def init(lang: str, name: str, plural_forms: str) -> None:
    """Start catalogs for a new language (then ``extract``, translate, ``compile``)."""
    header = (
        "Project-Id-Version: claimledger\n"
        f"Language: {lang}\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        f"Plural-Forms: {plural_forms}\n"
        f"X-Language-Name: {name}\n"
    )
    for domain in DOMAINS:
        if not domain.po(lang).exists():
            write_po(domain.po(lang), header, [])


def main(argv: list[str]) -> int:
    if argv[:1] == ["init"] and len(argv) == 4:
        init(argv[1], argv[2], argv[3])
        argv = ["extract"]
    if argv == ["extract"]:
        for domain in DOMAINS:
            for lang in domain.languages():
                missing = update(domain, lang)
                print(f"{domain.po(lang).relative_to(ROOT)}: {len(missing)} untranslated")
        return 0
    if argv == ["compile"]:
        for domain in DOMAINS:
            for lang in domain.languages():
                for path, data in compiled(domain, lang).items():
                    path.write_bytes(data)
                    print(path.relative_to(ROOT))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
