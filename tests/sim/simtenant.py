#!/usr/bin/python3
"""simtenant — a simulated Entra ID tenant for glasswatch's tests.

Serves, over HTTPS on 127.0.0.1, the two Microsoft endpoints the daemon
calls, shaped like the real ones (see shared/API-FACTS.md sections 1 and 2):

  POST /{tenant}/oauth2/v2.0/token        client-credentials tokens
  POST /v1/workspaces/{workspace}/query   Log Analytics KQL queries
  GET  /v1.0/users/..., /v1.0/roleManagement/..., /v1.0/groups/...,
       /v1.0/identity/conditionalAccess/policies   the posture reads
       (simposture.py; the directory is set with POST /posture)

and, over plain HTTP on a second loopback port, a JSON control API that tests
use to add records, inject faults, switch wire-format quirks and read what
the daemon asked for.  Standard library only; run with /usr/bin/python3.

  simtenant.py --cert server.pem --key server.key \\
      --tenant-id T --client-id C --client-secret-file F --workspace-id W \\
      [--client-cert PEM] [--imds-port 0 [--imds-client-id ID]] \\
      [--port 0] [--control-port 0] [--token-ttl 3599] [--ready-file F]

With --client-cert, the token endpoint also accepts client assertions (a
PS256 or RS256 JWT signed with that certificate's key; the signature is
checked with the openssl command).  With --imds-port, a third listener
(plain HTTP, loopback) answers the managed identity endpoint of the
instance metadata service, GET /metadata/identity/oauth2/token.
"""

import argparse
import base64
import calendar
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import simposture

# --------------------------------------------------------------------------
# Time: every datetime is an int of 100 ns ticks since the Unix epoch, the
# resolution Log Analytics prints (7 fractional digits).

TICKS_PER_SEC = 10_000_000


def now_ticks():
    return time.time_ns() // 100


def format_ticks(t):
    """2026-11-22T03:56:00.1234567Z, as Log Analytics prints datetimes."""
    secs, frac = divmod(t, TICKS_PER_SEC)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + \
        ".%07dZ" % frac


_DT_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$", re.I)


def parse_datetime(text):
    """ISO 8601 (any number of fractional digits, Z or offset) -> ticks."""
    m = _DT_RE.match(text)
    if not m:
        raise ValueError("bad datetime %r" % text)
    y, mo, d, h, mi, s, frac, tz = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h or 0),
                            int(mi or 0), int(s or 0), 0, 0, 0))
    ticks = secs * TICKS_PER_SEC
    if frac:
        ticks += int((frac + "0000000")[:7])
    if tz and tz.upper() != "Z":
        sign = 1 if tz[0] == "+" else -1
        hh, mm = int(tz[1:3]), int(tz[-2:])
        ticks -= sign * (hh * 3600 + mm * 60) * TICKS_PER_SEC
    return ticks


def format_timespan(t):
    sign = "-" if t < 0 else ""
    t = abs(t)
    secs, frac = divmod(t, TICKS_PER_SEC)
    days, secs = divmod(secs, 86400)
    out = sign + ("%d." % days if days else "")
    out += "%02d:%02d:%02d" % (secs // 3600, secs // 60 % 60, secs % 60)
    return out + (".%07d" % frac if frac else "")


_ISO_DUR_RE = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?"
    r"(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?"
    r"(?:(\d+(?:\.\d+)?)S)?)?$", re.I)


def parse_iso_duration(text):
    m = _ISO_DUR_RE.match(text)
    if not m or text.upper() in ("P", "PT") or text.upper().endswith("T"):
        raise ValueError("bad ISO 8601 duration %r" % text)
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    secs = (((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 60 + mi) * 60 + s
    return int(round(secs * TICKS_PER_SEC))


def parse_timespan_param(text, now):
    """The body's `timespan`: a duration ending now, or an ISO interval
    (start/end, start/duration, duration/end).  Returns (start, end) ticks."""
    text = text.strip()
    if "/" not in text:
        return now - parse_iso_duration(text), now
    a, b = text.split("/", 1)
    if a.upper().startswith("P"):
        end = parse_datetime(b)
        return end - parse_iso_duration(a), end
    start = parse_datetime(a)
    if b.upper().startswith("P"):
        return start, start + parse_iso_duration(b)
    return start, parse_datetime(b)


# --------------------------------------------------------------------------
# Table schemas (API-FACTS 2.7).  Column order follows the real tables.

_SIGNIN_COMMON = [
    ("TenantId", "string"), ("SourceSystem", "string"),
    ("TimeGenerated", "datetime"), ("ResourceId", "string"),
    ("OperationName", "string"), ("OperationVersion", "string"),
    ("Category", "string"), ("ResultType", "string"),
    ("ResultSignature", "string"), ("ResultDescription", "string"),
    ("DurationMs", "long"), ("CorrelationId", "string"),
    ("Resource", "string"), ("ResourceGroup", "string"),
    ("ResourceProvider", "string"), ("Identity", "string"),
    ("Level", "string"), ("Location", "string"),
    ("AlternateSignInName", "string"), ("AppDisplayName", "string"),
    ("AppId", "string"), ("AuthenticationContextClassReferences", "string"),
    ("AuthenticationDetails", "string"),
    ("AuthenticationMethodsUsed", "string"),
    ("AuthenticationProcessingDetails", "string"),
    ("AuthenticationProtocol", "string"),
    ("AuthenticationRequirement", "string"),
    ("AuthenticationRequirementPolicies", "string"),
    ("AutonomousSystemNumber", "string"), ("ClientAppUsed", "string"),
    ("ConditionalAccessPolicies", "dynamic"),
    ("ConditionalAccessStatus", "string"),
    ("CreatedDateTime", "datetime"), ("CrossTenantAccessType", "string"),
    ("DeviceDetail", "dynamic"), ("FlaggedForReview", "bool"),
    ("HomeTenantId", "string"), ("Id", "string"), ("IPAddress", "string"),
    ("IsInteractive", "bool"), ("IsRisky", "bool"),
    ("LocationDetails", "dynamic"), ("MfaDetail", "dynamic"),
    ("NetworkLocationDetails", "string"), ("OriginalRequestId", "string"),
    ("ProcessingTimeInMilliseconds", "string"), ("RiskDetail", "string"),
    ("RiskEventTypes", "string"), ("RiskEventTypes_V2", "string"),
    ("RiskLevelAggregated", "string"), ("RiskLevelDuringSignIn", "string"),
    ("RiskState", "string"), ("ResourceDisplayName", "string"),
    ("ResourceIdentity", "string"), ("ResourceTenantId", "string"),
    ("ServicePrincipalId", "string"), ("ServicePrincipalName", "string"),
    ("SignInIdentifier", "string"), ("SignInIdentifierType", "string"),
    ("Status", "dynamic"), ("TokenIssuerName", "string"),
    ("TokenIssuerType", "string"), ("UniqueTokenIdentifier", "string"),
    ("UserAgent", "string"), ("UserDisplayName", "string"),
    ("UserId", "string"), ("UserPrincipalName", "string"),
    ("UserType", "string"), ("AADTenantId", "string"),
    ("AppliedEventListeners", "dynamic"), ("Type", "string"),
]


def _noninteractive_schema():
    # Same names; the structured columns are JSON *text* here, and the
    # processing-time column has another name (API-FACTS 2.7).
    as_text = {"LocationDetails", "DeviceDetail", "Status",
               "ConditionalAccessPolicies", "MfaDetail"}
    cols = []
    for name, typ in _SIGNIN_COMMON:
        if name == "ProcessingTimeInMilliseconds":
            cols.append(("ProcessingTimeInMs", "string"))
            continue
        if name == "Type":
            cols.append(("SignInEventTypes", "string"))
        cols.append((name, "string" if name in as_text else typ))
    return cols


SCHEMAS = {
    "SigninLogs": list(_SIGNIN_COMMON),
    "AADNonInteractiveUserSignInLogs": _noninteractive_schema(),
    "AuditLogs": [
        ("TenantId", "string"), ("SourceSystem", "string"),
        ("TimeGenerated", "datetime"), ("ResourceId", "string"),
        ("OperationName", "string"), ("OperationVersion", "string"),
        ("Category", "string"), ("ResultType", "string"),
        ("ResultSignature", "string"), ("ResultDescription", "string"),
        ("DurationMs", "long"), ("CorrelationId", "string"),
        ("Resource", "string"), ("ResourceGroup", "string"),
        ("ResourceProvider", "string"), ("Identity", "string"),
        ("Level", "string"), ("Location", "string"),
        ("AdditionalDetails", "dynamic"), ("Id", "string"),
        ("InitiatedBy", "dynamic"), ("LoggedByService", "string"),
        ("Result", "string"), ("ResultReason", "string"),
        ("TargetResources", "dynamic"), ("AADTenantId", "string"),
        ("ActivityDisplayName", "string"),
        ("ActivityDateTime", "datetime"), ("AADOperationType", "string"),
        ("Type", "string"),
    ],
}

# Real-shaped default values (API-FACTS 7.3, the Training Lab sample).
DEFAULT_LOCATION = {
    "city": "Azor", "state": "Tel Aviv", "countryOrRegion": "IL",
    "geoCoordinates": {"latitude": 32.02, "longitude": 34.79},
}
DEFAULT_DEVICE = {"deviceId": "", "operatingSystem": "Windows 10",
                  "browser": "Edge 120.0.0"}
DEFAULT_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 "
              "Edg/120.0.0.0")
AZURE_PORTAL_APP_ID = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"


def guid():
    return str(uuid.uuid4())


# --------------------------------------------------------------------------
# KQL: a small tokenizer, recursive-descent parser and evaluator for the
# subset glasswatch sends (table | where | extend | project | order by ...,
# union of subqueries).  Anything it cannot parse is a SyntaxError and any
# unknown name a SemanticError, like the real engine.

class KqlError(Exception):
    def __init__(self, kind, message, token=None, pos=None):
        super().__init__(message)
        self.kind = kind            # "SyntaxError" | "SemanticError"
        self.token = token
        self.pos = pos
        self.line = self.col = None


def syntax_error(msg, tok=None):
    return KqlError("SyntaxError", msg,
                    token=tok.text if tok else None,
                    pos=tok.pos if tok else None)


def semantic_error(msg):
    return KqlError("SemanticError", msg)


class Tok:
    __slots__ = ("kind", "value", "text", "pos", "end")

    def __init__(self, kind, value, text, pos, end):
        self.kind, self.value, self.text = kind, value, text
        self.pos, self.end = pos, end

    def __repr__(self):
        return "Tok(%s,%r)" % (self.kind, self.text)


_TS_UNITS = {
    "d": 86400, "day": 86400, "days": 86400,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "ms": 1e-3, "milli": 1e-3, "millis": 1e-3, "millisecond": 1e-3,
    "milliseconds": 1e-3, "microsecond": 1e-6, "microseconds": 1e-6,
    "tick": 1e-7, "ticks": 1e-7,
}
# Word operators that may carry a leading '!' and/or trailing '~' or '_cs'.
_WORD_OPS = {"in", "in~", "has", "has_cs", "contains", "contains_cs",
             "startswith", "startswith_cs", "endswith", "endswith_cs",
             "between", "has_any", "has_all"}
_SYMBOLS = ["==", "!=", "=~", "!~", "<=", ">=", "<>", "..", "|", "(", ")",
            ",", ".", "[", "]", "=", "<", ">", "+", "-", "*", "/", "%", ";"]


def _raw_parens(src, i):
    """src[i] is '('; return (content, index after the matching ')')."""
    depth, j, quote = 0, i, None
    while j < len(src):
        c = src[j]
        if quote:
            if c == "\\":
                j += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return src[i + 1:j], j + 1
        j += 1
    raise KqlError("SyntaxError", "unbalanced parentheses", "(", i)


def tokenize(src):
    toks, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        start = i
        if c in "\"'" or (c in "@hH" and i + 1 < n and src[i + 1] in "\"'"):
            verbatim = c == "@"
            if c in "@hH":
                i += 1
            quote = src[i]
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise KqlError("SyntaxError", "unterminated string",
                                   src[start:start + 20], start)
                ch = src[i]
                if ch == quote:
                    i += 1
                    break
                if ch == "\\" and not verbatim and i + 1 < n:
                    esc = src[i + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(esc, esc))
                    i += 2
                    continue
                buf.append(ch)
                i += 1
            toks.append(Tok("str", "".join(buf), src[start:i], start, i))
            continue
        if c.isdigit():
            m = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?").match(src, i)
            num_text = m.group(0)
            i = m.end()
            um = re.compile(r"[A-Za-z]+").match(src, i)
            if um and um.group(0).lower() in _TS_UNITS:
                secs = float(num_text) * _TS_UNITS[um.group(0).lower()]
                i = um.end()
                toks.append(Tok("ts", int(round(secs * TICKS_PER_SEC)),
                                src[start:i], start, i))
                continue
            if um:
                raise KqlError("SyntaxError", "bad number",
                               src[start:um.end()], start)
            val = float(num_text) if any(x in num_text for x in ".eE") \
                else int(num_text)
            toks.append(Tok("num", val, num_text, start, i))
            continue
        if c.isalpha() or c == "_" or c == "$":
            m = re.compile(r"[A-Za-z_$][A-Za-z0-9_]*").match(src, i)
            word = m.group(0)
            i = m.end()
            low = word.lower()
            if low in ("datetime", "timespan", "time", "dynamic") and \
                    i < n and src[i] == "(":
                raw, i = _raw_parens(src, i)
                toks.append(Tok("lit:" + ("timespan" if low == "time"
                                          else low),
                                raw, src[start:i], start, i))
                continue
            if word in ("in", "has") and i < n and src[i] == "~":
                i += 1
                word += "~"
            toks.append(Tok("id", word, src[start:i], start, i))
            continue
        if c == "!" and i + 1 < n and src[i + 1].isalpha():
            m = re.compile(r"[A-Za-z_]+~?").match(src, i + 1)
            if m.group(0) in _WORD_OPS:
                i = m.end()
                toks.append(Tok("id", "!" + m.group(0), src[start:i],
                                start, i))
                continue
        for sym in _SYMBOLS:
            if src.startswith(sym, i):
                i += len(sym)
                toks.append(Tok("op", sym, sym, start, i))
                break
        else:
            raise KqlError("SyntaxError", "unexpected character %r" % c, c, i)
    toks.append(Tok("eof", None, "<end of query>", n, n))
    return toks


# Types: string guid datetime timespan bool int long real decimal dynamic.
_NUMERIC = {"int", "long", "real", "decimal"}


def _type_group(t):
    if t in _NUMERIC:
        return "num"
    if t in ("string", "guid"):
        return "str"
    return t


def to_text(v):
    """tostring(): the text KQL would produce for a value."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return str(v)


def _has_term(hay, term, cs=False):
    if term == "":
        return True
    flags = 0 if cs else re.I
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(term) +
                     r"(?![A-Za-z0-9])", hay, flags) is not None


class Node:
    """A compiled expression: a KQL type and fn(row, ctx) -> value."""
    __slots__ = ("type", "fn", "name")

    def __init__(self, typ, fn, name=None):
        self.type, self.fn, self.name = typ, fn, name


class Ctx:
    def __init__(self, now):
        self.now = now


def _const(typ, v):
    return Node(typ, lambda r, c: v)


class Parser:
    """Parses and compiles one query.  Columns are resolved at compile
    time against the schema flowing through the pipeline."""

    def __init__(self, src, tables):
        self.toks = tokenize(src)
        self.i = 0
        self.tables = tables        # name -> (schema, rows)

    # -- token helpers
    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return t

    def at_op(self, sym):
        t = self.peek()
        return t.kind == "op" and t.value == sym

    def at_word(self, *words):
        t = self.peek()
        return t.kind == "id" and t.value.lower() in words

    def expect_op(self, sym):
        t = self.next()
        if t.kind != "op" or t.value != sym:
            raise syntax_error("expected '%s'" % sym, t)
        return t

    def expect_word(self, word):
        t = self.next()
        if t.kind != "id" or t.value.lower() != word:
            raise syntax_error("expected '%s'" % word, t)
        return t

    def ident(self):
        t = self.next()
        if t.kind != "id":
            raise syntax_error("expected a name", t)
        return t.value

    # -- statements and tabular expressions
    def parse_query(self):
        schema, rows = self.tabular()
        while self.at_op(";"):
            self.next()
        t = self.peek()
        if t.kind != "eof":
            raise syntax_error("unexpected token", t)
        return schema, rows

    def tabular(self):
        schema, rows = self.source()
        while self.at_op("|"):
            self.next()
            schema, rows = self.operator(schema, rows)
        return schema, rows

    def source(self):
        if self.at_op("("):
            self.next()
            res = self.tabular()
            self.expect_op(")")
            return res
        t = self.peek()
        if t.kind != "id":
            raise syntax_error("expected a table name", t)
        if t.value == "union":
            self.next()
            return self.union()
        self.next()
        return self.table(t.value)

    def table(self, name):
        if name not in self.tables:
            raise semantic_error("Failed to resolve table or column "
                                 "expression named '%s'" % name)
        schema, rows = self.tables[name]
        return list(schema), list(rows)

    def union(self):
        withsource = None
        while self.peek().kind == "id" and self.peek(1).kind == "op" and \
                self.peek(1).value == "=":
            key = self.next().value.lower()
            self.next()
            val = self.next()
            if key == "withsource":
                withsource = val.value
            elif key not in ("kind", "isfuzzy"):
                raise syntax_error("unknown union parameter", val)
        parts = []
        while True:
            if self.at_op("("):
                self.next()
                parts.append(self.tabular())
                self.expect_op(")")
            else:
                name = self.ident()
                parts.append(self.table(name))
            if not self.at_op(","):
                break
            self.next()
        schema, seen, rows = [], set(), []
        if withsource:
            schema.append((withsource, "string"))
            seen.add(withsource)
        for s, r in parts:
            for col, typ in s:
                if col not in seen:
                    seen.add(col)
                    schema.append((col, typ))
            for row in r:
                if withsource:
                    row = dict(row)
                    row[withsource] = row.get("$table")
                rows.append(row)
        return schema, rows

    def operator(self, schema, rows):
        t = self.next()
        if t.kind != "id":
            raise syntax_error("expected a query operator", t)
        name = t.value.lower()
        # Hyphenated operators (project-away, mv-expand) arrive as id - id.
        while self.at_op("-") and self.peek().pos == t.end and \
                self.peek(1).kind == "id" and \
                self.peek(1).pos == self.peek().end:
            self.next()
            t2 = self.next()
            name += "-" + t2.value.lower()
            t = t2
        handler = {
            "where": self.op_where, "filter": self.op_where,
            "extend": self.op_extend, "project": self.op_project,
            "project-away": self.op_project_away,
            "order": self.op_order, "sort": self.op_order,
            "take": self.op_take, "limit": self.op_take,
            "top": self.op_top, "count": self.op_count,
            "distinct": self.op_distinct,
        }.get(name)
        if handler is None:
            raise syntax_error("simtenant does not know the operator '%s'"
                               % name, t)
        try:
            return handler(schema, rows)
        except KqlError as e:
            # Name the operator, as the real engine does.
            if e.kind == "SemanticError" and not str(e).startswith("'"):
                raise KqlError(e.kind, "'%s' operator: %s" % (name, e))
            raise

    def op_where(self, schema, rows):
        pred = self.expr(schema)
        if pred.type not in ("bool", "dynamic"):
            raise semantic_error("'where' operator: the predicate is of "
                                 "type '%s', expected 'bool'" % pred.type)
        ctx = self.ctx
        return schema, [r for r in rows if pred.fn(r, ctx) is True]

    def _assignments(self, schema):
        """`Name = expr` or `expr` items, comma separated."""
        items = []
        while True:
            if self.peek().kind == "id" and self.at_op_k(1, "="):
                col = self.next().value
                self.next()
                node = self.expr(schema)
            else:
                node = self.expr(schema)
                col = node.name or "Column%d" % (len(items) + 1)
            items.append((col, node))
            if not self.at_op(","):
                return items
            self.next()

    def at_op_k(self, k, sym):
        t = self.peek(k)
        return t.kind == "op" and t.value == sym

    def op_extend(self, schema, rows):
        items = self._assignments(schema)
        ctx = self.ctx
        new_schema = list(schema)
        for col, node in items:
            new_schema = [(c, ty) for c, ty in new_schema if c != col]
            new_schema.append((col, node.type))
        out = []
        for r in rows:
            r2 = dict(r)
            for col, node in items:
                r2[col] = node.fn(r, ctx)
            out.append(r2)
        return new_schema, out

    def op_project(self, schema, rows):
        items = self._assignments(schema)
        ctx = self.ctx
        new_schema = [(col, node.type) for col, node in items]
        out = []
        for r in rows:
            r2 = {"$ingest": r.get("$ingest"), "$table": r.get("$table")}
            for col, node in items:
                r2[col] = node.fn(r, ctx)
            out.append(r2)
        return new_schema, out

    def op_project_away(self, schema, rows):
        names = [self.ident()]
        while self.at_op(","):
            self.next()
            names.append(self.ident())
        known = {c for c, _ in schema}
        for nm in names:
            if nm not in known:
                raise semantic_error("'project-away' operator: Failed to "
                                     "resolve column named '%s'" % nm)
        return [(c, t) for c, t in schema if c not in names], rows

    def _sort_keys(self, schema):
        keys = []
        while True:
            node = self.expr(schema)
            desc = True                 # KQL's default order is descending
            if self.at_word("asc", "desc"):
                desc = self.next().value.lower() == "desc"
            nulls_first = not desc
            if self.at_word("nulls"):
                self.next()
                nulls_first = self.next().value.lower() == "first"
            keys.append((node, desc, nulls_first))
            if not self.at_op(","):
                return keys
            self.next()

    def _sorted(self, rows, keys):
        ctx = self.ctx
        out = list(rows)
        for node, desc, nulls_first in reversed(keys):
            present = [r for r in out if node.fn(r, ctx) is not None]
            absent = [r for r in out if node.fn(r, ctx) is None]
            present.sort(key=lambda r: _sort_value(node.fn(r, ctx)),
                         reverse=desc)
            out = absent + present if nulls_first else present + absent
        return out

    def op_order(self, schema, rows):
        self.expect_word("by")
        return schema, self._sorted(rows, self._sort_keys(schema))

    def _count_arg(self):
        t = self.next()
        if t.kind != "num" or not isinstance(t.value, int):
            raise syntax_error("expected a row count", t)
        return t.value

    def op_take(self, schema, rows):
        return schema, rows[:self._count_arg()]

    def op_top(self, schema, rows):
        n = self._count_arg()
        self.expect_word("by")
        return schema, self._sorted(rows, self._sort_keys(schema))[:n]

    def op_count(self, schema, rows):
        return [("Count", "long")], [{"Count": len(rows)}]

    def op_distinct(self, schema, rows):
        cols = [self.ident()]
        while self.at_op(","):
            self.next()
            cols.append(self.ident())
        types = dict(schema)
        for c in cols:
            if c not in types:
                raise semantic_error("'distinct' operator: Failed to "
                                     "resolve scalar expression named "
                                     "'%s'" % c)
        seen, out = set(), []
        for r in rows:
            key = tuple(to_text(r.get(c)) for c in cols)
            if key not in seen:
                seen.add(key)
                out.append({c: r.get(c) for c in cols})
        return [(c, types[c]) for c in cols], out

    # -- scalar expressions
    def expr(self, schema):
        return self.or_expr(schema)

    def or_expr(self, schema):
        left = self.and_expr(schema)
        while self.at_word("or"):
            self.next()
            right = self.and_expr(schema)
            left = Node("bool", (lambda a, b: lambda r, c:
                                 a.fn(r, c) is True or b.fn(r, c) is True)
                        (left, right))
        return left

    def and_expr(self, schema):
        left = self.cmp_expr(schema)
        while self.at_word("and"):
            self.next()
            right = self.cmp_expr(schema)
            left = Node("bool", (lambda a, b: lambda r, c:
                                 a.fn(r, c) is True and b.fn(r, c) is True)
                        (left, right))
        return left

    def cmp_expr(self, schema):
        left = self.add_expr(schema)
        t = self.peek()
        if t.kind == "op" and t.value in ("==", "!=", "<>", "<", "<=", ">",
                                          ">=", "=~", "!~"):
            self.next()
            right = self.add_expr(schema)
            return _compare(t, left, right)
        if t.kind == "id":
            word = t.value.lower()
            neg = word.startswith("!")
            base = word.lstrip("!")
            if base in ("in", "in~", "has_any", "has_all"):
                self.next()
                items = self.paren_list(schema)
                return _membership(base, neg, left, items)
            if base == "between":
                self.next()
                self.expect_op("(")
                lo = self.add_expr(schema)
                self.expect_op("..")
                hi = self.add_expr(schema)
                self.expect_op(")")
                return _between(t, neg, left, lo, hi)
            if base in ("has", "has_cs", "contains", "contains_cs",
                        "startswith", "startswith_cs", "endswith",
                        "endswith_cs", "has~"):
                self.next()
                right = self.add_expr(schema)
                return _string_op(base, neg, left, right)
        return left

    def paren_list(self, schema):
        self.expect_op("(")
        items = []
        if not self.at_op(")"):
            while True:
                items.append(self.expr(schema))
                if not self.at_op(","):
                    break
                self.next()
        self.expect_op(")")
        return items

    def add_expr(self, schema):
        left = self.mul_expr(schema)
        while self.peek().kind == "op" and self.peek().value in ("+", "-"):
            op = self.next()
            right = self.mul_expr(schema)
            left = _arith(op, left, right)
        return left

    def mul_expr(self, schema):
        left = self.unary(schema)
        while self.peek().kind == "op" and self.peek().value in ("*", "/",
                                                                 "%"):
            op = self.next()
            right = self.unary(schema)
            left = _arith(op, left, right)
        return left

    def unary(self, schema):
        if self.at_op("-"):
            op = self.next()
            inner = self.unary(schema)
            return _arith(op, _const(inner.type, 0), inner)
        return self.postfix(schema)

    def postfix(self, schema):
        node = self.primary(schema)
        while True:
            if self.at_op(".") and self.peek(1).kind == "id":
                self.next()
                key = self.next().value
                node = _member(node, _const("string", key))
                node.name = None if node.name is None else \
                    "%s_%s" % (node.name, key)
            elif self.at_op("["):
                self.next()
                key = self.expr(schema)
                self.expect_op("]")
                node = _member(node, key)
            else:
                return node

    def primary(self, schema):
        t = self.next()
        if t.kind == "str":
            return _const("string", t.value)
        if t.kind == "num":
            return _const("real" if isinstance(t.value, float) else "long",
                          t.value)
        if t.kind == "ts":
            return _const("timespan", t.value)
        if t.kind == "lit:datetime":
            raw = t.value.strip()
            if raw.lower() in ("", "null"):
                return _const("datetime", None)
            try:
                return _const("datetime", parse_datetime(raw))
            except ValueError:
                raise syntax_error("bad datetime literal", t)
        if t.kind == "lit:timespan":
            sub = tokenize(t.value)
            if len(sub) == 2 and sub[0].kind == "ts":
                return _const("timespan", sub[0].value)
            raise syntax_error("bad timespan literal", t)
        if t.kind == "lit:dynamic":
            try:
                raw = t.value.strip()
                return _const("dynamic", json.loads(raw) if raw else None)
            except ValueError:
                raise syntax_error("bad dynamic literal", t)
        if t.kind == "op" and t.value == "(":
            node = self.expr(schema)
            self.expect_op(")")
            return node
        if t.kind == "id":
            low = t.value.lower()
            if low in ("true", "false") and not self.at_op("("):
                return _const("bool", low == "true")
            if self.at_op("("):
                return self.call(t, schema)
            types = dict(schema)
            if t.value not in types:
                raise semantic_error("Failed to resolve scalar expression "
                                     "named '%s'" % t.value)
            col = t.value
            return Node(types[col], lambda r, c: r.get(col), name=col)
        raise syntax_error("unexpected token", t)

    def call(self, t, schema):
        args = self.paren_list(schema)
        fname = t.value.lower()
        f = _FUNCTIONS.get(fname)
        if f is None:
            raise semantic_error("Unknown function: '%s'" % t.value)
        arity, builder = f
        if not (arity[0] <= len(args) <= arity[1]):
            raise semantic_error("function '%s' expects %d..%d arguments"
                                 % (t.value, arity[0], arity[1]))
        return builder(args)

    @property
    def ctx(self):
        return self._ctx


def _sort_value(v):
    if isinstance(v, (dict, list)):
        return to_text(v)
    if isinstance(v, bool):
        return int(v)
    return v


def _cmp_norm(a, b):
    """Bring a pair of runtime values to something Python can compare."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return to_text(a), to_text(b)
    if isinstance(a, str) and not isinstance(b, str):
        return a, to_text(b)
    if isinstance(b, str) and not isinstance(a, str):
        return to_text(a), b
    return a, b


def _check_comparable(tok, left, right):
    ga, gb = _type_group(left.type), _type_group(right.type)
    if "dynamic" in (ga, gb) or ga == gb:
        return
    raise semantic_error("Cannot compare values of types %s and %s. Try "
                         "adding explicit casts" % (left.type, right.type))


_CMP_OPS = {
    "==": lambda a, b: a == b, "=~": lambda a, b: a == b,
    "!=": lambda a, b: a != b, "<>": lambda a, b: a != b,
    "!~": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(tok, left, right):
    op = tok.value
    _check_comparable(tok, left, right)
    ci = op in ("=~", "!~")
    test = _CMP_OPS[op]

    def fn(r, c):
        a, b = left.fn(r, c), right.fn(r, c)
        if a is None or b is None:
            return None             # a comparison with null is null
        a, b = _cmp_norm(a, b)
        if ci:
            a, b = to_text(a).lower(), to_text(b).lower()
        try:
            return test(a, b)
        except TypeError:
            return None
    return Node("bool", fn)


def _membership(base, neg, left, items):
    ci = base in ("in~",)

    def values(r, c):
        out = []
        for it in items:
            v = it.fn(r, c)
            if isinstance(v, list):
                out.extend(v)
            else:
                out.append(v)
        return out

    def fn(r, c):
        a = left.fn(r, c)
        if base in ("has_any", "has_all"):
            hay = to_text(a)
            hits = [_has_term(hay, to_text(v)) for v in values(r, c)]
            res = any(hits) if base == "has_any" else all(hits)
            return (not res) if neg else res
        if a is None:
            return False if not neg else True
        vals = values(r, c)
        if ci:
            at = to_text(a).lower()
            res = any(v is not None and to_text(v).lower() == at
                      for v in vals)
        else:
            res = False
            for v in vals:
                x, y = _cmp_norm(a, v)
                if x == y:
                    res = True
                    break
        return (not res) if neg else res
    return Node("bool", fn)


def _between(tok, neg, left, lo, hi):
    _check_comparable(tok, left, lo)
    _check_comparable(tok, left, hi)

    def fn(r, c):
        a, x, y = left.fn(r, c), lo.fn(r, c), hi.fn(r, c)
        if a is None or x is None or y is None:
            return None
        res = x <= a <= y
        return (not res) if neg else res
    return Node("bool", fn)


def _string_op(base, neg, left, right):
    cs = base.endswith("_cs")
    kind = base.replace("_cs", "").rstrip("~")

    def fn(r, c):
        hay, needle = to_text(left.fn(r, c)), to_text(right.fn(r, c))
        if kind == "has":
            res = _has_term(hay, needle, cs)
        else:
            if not cs:
                hay, needle = hay.lower(), needle.lower()
            res = {"contains": needle in hay,
                   "startswith": hay.startswith(needle),
                   "endswith": hay.endswith(needle)}[kind]
        return (not res) if neg else res
    return Node("bool", fn)


def _arith(tok, left, right):
    op = tok.value
    lt, rt = left.type, right.type
    if lt == "datetime" and rt == "timespan":
        typ = "datetime"
    elif lt == "datetime" and rt == "datetime" and op == "-":
        typ = "timespan"
    elif lt == "timespan" and rt in ("timespan", "datetime") and op == "+":
        typ = rt
    elif lt == "timespan" and rt == "timespan":
        typ = "timespan"
    elif lt in _NUMERIC and rt in _NUMERIC:
        typ = "real" if "real" in (lt, rt) else \
            ("long" if "long" in (lt, rt) else lt)
    elif lt == "timespan" and rt in _NUMERIC and op in ("*", "/"):
        typ = "timespan"
    elif "dynamic" in (lt, rt):
        typ = "dynamic"
    else:
        raise semantic_error("arithmetic '%s' is not defined for %s and %s"
                             % (op, lt, rt))

    def fn(r, c):
        a, b = left.fn(r, c), right.fn(r, c)
        if a is None or b is None:
            return None
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                v = a * b
            elif op == "/":
                v = a / b if typ == "real" else a // b
            else:
                v = a % b
            return int(v) if typ in ("timespan", "long", "int") else v
        except (TypeError, ZeroDivisionError):
            return None
    return Node(typ, fn)


def _member(node, key):
    """x.key / x[key] on a dynamic value; named like KQL names it."""
    if node.type not in ("dynamic",):
        raise semantic_error("member access is only defined on dynamic "
                             "values, not on '%s'" % node.type)

    def fn(r, c):
        v, k = node.fn(r, c), key.fn(r, c)
        if isinstance(v, dict) and isinstance(k, str):
            return v.get(k)
        if isinstance(v, list) and isinstance(k, int) and not \
                isinstance(k, bool):
            return v[k] if -len(v) <= k < len(v) else None
        return None
    return Node("dynamic", fn, name=node.name)


def _fn_tostring(a):
    return Node("string", lambda r, c: to_text(a[0].fn(r, c)))


def _fn_todynamic(a):
    def fn(r, c):
        v = a[0].fn(r, c)
        if isinstance(v, str):
            try:
                return json.loads(v)
            except ValueError:
                return v
        return v
    return Node("dynamic", fn)


def _fn_tonumber(typ):
    def build(a):
        def fn(r, c):
            v = a[0].fn(r, c)
            try:
                return float(v) if typ == "real" else int(float(v))
            except (TypeError, ValueError):
                return None
        return Node(typ, fn)
    return build


def _fn_todatetime(a):
    def fn(r, c):
        v = a[0].fn(r, c)
        if isinstance(v, int):
            return v
        try:
            return parse_datetime(to_text(v))
        except ValueError:
            return None
    return Node("datetime", fn)


def _fn_iff(a):
    return Node(a[1].type, lambda r, c: a[1].fn(r, c)
                if a[0].fn(r, c) is True else a[2].fn(r, c))


def _fn_coalesce(a):
    def fn(r, c):
        for x in a:
            v = x.fn(r, c)
            if v is not None and v != "":
                return v
        return None
    return Node(a[0].type, fn)


def _fn_ago(a):
    if a[0].type != "timespan":
        raise semantic_error("ago(): argument must be a timespan")
    return Node("datetime", lambda r, c: c.now - a[0].fn(r, c))


def _fn_now(a):
    if a and a[0].type != "timespan":
        raise semantic_error("now(): argument must be a timespan")
    return Node("datetime", lambda r, c: c.now + (a[0].fn(r, c) if a else 0))


_FUNCTIONS = {
    "ingestion_time": ((0, 0), lambda a: Node(
        "datetime", lambda r, c: r.get("$ingest"))),
    "now": ((0, 1), _fn_now),
    "ago": ((1, 1), _fn_ago),
    "tostring": ((1, 1), _fn_tostring),
    "todynamic": ((1, 1), _fn_todynamic),
    "parse_json": ((1, 1), _fn_todynamic),
    "toint": ((1, 1), _fn_tonumber("int")),
    "tolong": ((1, 1), _fn_tonumber("long")),
    "toreal": ((1, 1), _fn_tonumber("real")),
    "todouble": ((1, 1), _fn_tonumber("real")),
    "todatetime": ((1, 1), _fn_todatetime),
    "tolower": ((1, 1), lambda a: Node(
        "string", lambda r, c: to_text(a[0].fn(r, c)).lower())),
    "toupper": ((1, 1), lambda a: Node(
        "string", lambda r, c: to_text(a[0].fn(r, c)).upper())),
    "strlen": ((1, 1), lambda a: Node(
        "long", lambda r, c: len(to_text(a[0].fn(r, c))))),
    "strcat": ((1, 64), lambda a: Node(
        "string", lambda r, c: "".join(to_text(x.fn(r, c)) for x in a))),
    "isempty": ((1, 1), lambda a: Node(
        "bool", lambda r, c: a[0].fn(r, c) in (None, ""))),
    "isnotempty": ((1, 1), lambda a: Node(
        "bool", lambda r, c: a[0].fn(r, c) not in (None, ""))),
    "isnull": ((1, 1), lambda a: Node(
        "bool", lambda r, c: a[0].fn(r, c) is None)),
    "isnotnull": ((1, 1), lambda a: Node(
        "bool", lambda r, c: a[0].fn(r, c) is not None)),
    "not": ((1, 1), lambda a: Node(
        "bool", lambda r, c: a[0].fn(r, c) is False)),
    "array_length": ((1, 1), lambda a: Node(
        "long", lambda r, c: len(a[0].fn(r, c))
        if isinstance(a[0].fn(r, c), list) else None)),
    "iff": ((3, 3), _fn_iff),
    "iif": ((3, 3), _fn_iff),
    "coalesce": ((1, 64), _fn_coalesce),
}


def run_kql(src, tables, now):
    """Run a query over `tables` (name -> (schema, rows)).  Returns
    (schema, rows); raises KqlError."""
    try:
        p = Parser(src, tables)
        p._ctx = Ctx(now)
        return p.parse_query()
    except KqlError as e:
        if e.pos is not None:
            # 1-based line and column, as the engine reports them.
            e.line = src.count("\n", 0, e.pos) + 1
            e.col = e.pos - (src.rfind("\n", 0, e.pos) + 1) + 1
        raise


# --------------------------------------------------------------------------
# Simulator state: records, tokens, faults, settings, request log.

DEFAULT_SETTINGS = {
    "dynamic_as": "string",          # "string" (JSON text) | "nested"
    # bool/long/int/real cells as JSON strings (like the spec example) or
    # native JSON; a mapping {"bool": "string", "long": "native", ...} too.
    "scalars_as": "string",
    "expired_token_status": 403,     # real LA: 403 InvalidAuthenticationToken
    "secret_expired": False,         # the right secret answers AADSTS7000222
    "token_ttl": 3599,
    "empty_workspace_204": False,    # no rows at all in any table -> 204
    "imds_client_id": None,          # the user-assigned identity IMDS knows
    "graph_reject_or": False,        # Graph: 400 to a $filter with `or`
    "graph_page_size": None,         # Graph: at most this many per page
    # The app registration (GET /v1.0/applications(appId='...')): the end
    # of the client secret's validity (ISO 8601) or None; refused with 403
    # when the app may not read it (no Application.Read.All).
    "app_secret_end": None,
    "app_read_denied": False,
}

FAULT_KINDS = {"status", "partial_error", "empty_200", "no_content_204",
               "truncated", "malformed", "oversize", "drop", "delay"}
# Kinds that reshape a successful answer; the others hit before any check.
DATA_FAULTS = {"partial_error", "empty_200", "no_content_204", "truncated",
               "oversize",
               "malformed"}

AUDIENCES = {
    "https://api.loganalytics.io/.default": "https://api.loganalytics.io",
    "https://graph.microsoft.com/.default": "https://graph.microsoft.com",
}


class ControlError(Exception):
    pass


class Sim:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.tenant_id = args.tenant_id.lower()
        self.client_id = args.client_id.lower()
        self.workspace_id = args.workspace_id.lower()
        self.tokens = {}        # access_token -> {"aud", "exp", "client_id"}
        self.workdir = tempfile.mkdtemp(prefix="simtenant-")
        self.app_cert = AppCert(args.client_cert, self.workdir) \
            if args.client_cert else None
        self.reset_locked(keep_tokens=True)

    def reset_locked(self, keep_tokens):
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings["token_ttl"] = self.args.token_ttl
        self.settings["imds_client_id"] = self.args.imds_client_id
        self.tables = {name: [] for name in SCHEMAS}
        self.schemas = {name: list(cols) for name, cols in SCHEMAS.items()}
        self.faults = []
        self.requests = []
        self.seq = 0
        self.stats = {
            "requests": 0, "token_requests": 0, "tokens_issued": 0,
            "token_errors": 0, "query_requests": 0, "queries_ok": 0,
            "query_errors": 0, "rows_returned": 0, "faults_applied": 0,
            "tls_failures": 0, "tls_handshakes": 0, "imds_requests": 0,
            "imds_tokens_issued": 0, "graph_requests": 0,
            "graph_ok": 0, "by_status": {},
        }
        if not keep_tokens:
            self.tokens = {}
        self.posture = simposture.Directory()
        self._seed_background()

    def _seed_background(self):
        """A live tenant's tables are never empty: one row of someone
        else in each, ingested a minute ago, so glasswatchd's log-pipeline
        check sees the export working (a test of a silent pipeline sets a
        silent_after shorter than that minute)."""
        when = now_ticks() - 60 * TICKS_PER_SEC
        for table, cols in SCHEMAS.items():
            given = {}
            if any(c == "UserId" for c, _ in cols):
                given = {"UserId": guid(),
                         "UserPrincipalName": "someone@contoso.example"}
            row = self._complete_row(table, given, when, None)
            row["$ingest"] = when
            row["$table"] = table
            row["$background"] = True
            self.tables[table].append(row)

    def secret(self):
        if self.args.client_secret_file is None:
            return ""
        with open(self.args.client_secret_file, "rb") as f:
            return f.read().decode("utf-8").rstrip("\r\n")

    # -- faults
    def take_fault(self, path, stage):
        """The first queued fault for `path` applicable at `stage`
        ("pre": before any check; "data": on a successful answer)."""
        with self.lock:
            for f in self.faults:
                if f["path"] not in (path, "any"):
                    continue
                if (f["kind"] in DATA_FAULTS) != (stage == "data"):
                    continue
                if f["until"] is not None:
                    # An outage: every request until then, however many.
                    if time.time() >= f["until"]:
                        self.faults.remove(f)
                        continue
                else:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.faults.remove(f)
                self.stats["faults_applied"] += 1
                return dict(f)
        return None

    def add_fault(self, spec):
        if not isinstance(spec, dict):
            raise ControlError("a fault is a JSON object")
        path = spec.get("path", "query")
        if path not in ("query", "token", "imds", "graph", "posture",
                        "any"):
            raise ControlError("path must be query, token, imds, graph, "
                               "posture or any")
        kind = spec.get("kind")
        if kind is None:
            kind = "status" if "status" in spec else "delay"
        if kind not in FAULT_KINDS:
            raise ControlError("unknown fault kind %r" % kind)
        if kind == "status" and not isinstance(spec.get("status"), int):
            raise ControlError("a status fault needs an integer status")
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ControlError("count must be a positive integer")
        until = spec.get("until")
        if until is not None and not isinstance(until, (int, float)):
            raise ControlError("until must be a Unix time")
        fault = {"path": path, "kind": kind, "count": count,
                 "until": float(until) if until is not None else None,
                 "status": spec.get("status"),
                 "retry_after": spec.get("retry_after"),
                 "body": spec.get("body"),
                 "delay": float(spec.get("delay") or 0),
                 "size": int(spec.get("size") or 2 * 1024 * 1024)}
        with self.lock:
            self.faults.append(fault)
        return fault

    # -- records
    def add_records(self, spec):
        if not isinstance(spec, dict):
            raise ControlError("expected a JSON object")
        table = spec.get("table", "SigninLogs")
        if not isinstance(table, str) or not re.match(r"^[A-Za-z_]\w*$",
                                                      table):
            raise ControlError("bad table name")
        rows = spec.get("rows")
        if rows is None:
            rows = [spec.get("row") or {}]
        if not isinstance(rows, list) or not all(isinstance(r, dict)
                                                 for r in rows):
            raise ControlError("rows must be a list of objects")
        now = now_ticks()
        delay = spec.get("ingest_delay", 0)
        age = spec.get("event_age")
        out = []
        with self.lock:
            for given in rows:
                row = self._complete_row(table, given, now, age)
                if "ingestion_time" in spec:
                    ingest = parse_datetime(spec["ingestion_time"])
                else:
                    ingest = now + int(float(delay) * TICKS_PER_SEC)
                row["$ingest"] = ingest
                row["$table"] = table
                self.tables.setdefault(table, []).append(row)
                out.append({"id": row.get("Id"), "table": table,
                            "ingestion_time": format_ticks(ingest),
                            "visible_at": ingest / TICKS_PER_SEC,
                            "time_generated": format_ticks(
                                row["TimeGenerated"])})
        return {"id": out[0]["id"] if out else None,
                "ids": [o["id"] for o in out], "records": out}

    def _complete_row(self, table, given, now, age):
        schema = self.schemas.get(table)
        if schema is None:
            # A table this sim has no schema for: infer one from the row.
            schema = [("TimeGenerated", "datetime")]
            for k, v in given.items():
                if k != "TimeGenerated":
                    schema.append((k, _infer_type(v)))
            schema.append(("Type", "string"))
            self.schemas[table] = schema
            self.tables[table] = []
        types = dict(schema)
        for k in given:
            if k not in types:
                raise ControlError("table %s has no column %r" % (table, k))
        row = {}
        for k, v in given.items():
            try:
                row[k] = _coerce(types[k], v)
            except (TypeError, ValueError) as e:
                raise ControlError("column %s: %s" % (k, e))
        event = now - int(float(age) * TICKS_PER_SEC) if age is not None \
            else row.get("TimeGenerated", now)
        if age is not None:
            row["TimeGenerated"] = event
        row.setdefault("TimeGenerated", event)
        defaults = self._defaults(table, row, event)
        for col, _ in schema:
            if col not in row:
                row[col] = defaults.get(col)
        if age is not None and "CreatedDateTime" in types:
            row["CreatedDateTime"] = event
        if age is not None and "ActivityDateTime" in types:
            row["ActivityDateTime"] = event
        return row

    def _defaults(self, table, row, event):
        tenant = self.tenant_id
        base = {
            "TenantId": self.workspace_id, "SourceSystem": "Azure AD",
            "ResourceId": "/tenants/%s/providers/Microsoft.aadiam" % tenant,
            "OperationVersion": "1.0", "DurationMs": 0,
            "CorrelationId": guid(), "Resource": "Microsoft.aadiam",
            "ResourceGroup": "Microsoft.aadiam",
            "ResourceProvider": "Microsoft.aadiam", "Level": "4",
            "AADTenantId": tenant, "Type": table,
        }
        if table == "AuditLogs":
            corr = row.get("CorrelationId") or base["CorrelationId"]
            base.update({
                "Id": "Directory_%s_%s_%d" % (
                    corr, secrets.token_hex(3).upper(), 1),
                "OperationName": row.get("ActivityDisplayName",
                                         "Update user"),
                "ActivityDisplayName": row.get("OperationName",
                                               "Update user"),
                "Category": "UserManagement", "Result": "success",
                "ResultType": "", "ResultSignature": "None",
                "ResultDescription": "", "ResultReason": "",
                "LoggedByService": "Core Directory",
                "AADOperationType": "Update", "Location": "EU",
                "Identity": "Microsoft Graph",
                "InitiatedBy": {"app": {
                    "displayName": "Microsoft Graph", "appId": None,
                    "servicePrincipalId": guid(),
                    "servicePrincipalName": None}},
                "TargetResources": [], "AdditionalDetails": [],
                "ActivityDateTime": event,
            })
            return base
        upn = row.get("UserPrincipalName") or "user@contoso.onmicrosoft.com"
        result = row.get("ResultType") or "0"
        status = {"errorCode": int(result) if result.isdigit() else 0}
        if result != "0":
            status["failureReason"] = row.get("ResultDescription") or "Other."
        display = upn.split("@")[0]
        base.update({
            "OperationName": "Sign-in activity",
            "Category": "SignInLogs" if table == "SigninLogs"
            else "NonInteractiveUserSignInLogs",
            "ResultType": "0", "ResultSignature": "None",
            "ResultDescription": "" if result == "0" else "Other.",
            "Identity": display, "Location": "IL",
            "AlternateSignInName": upn, "AppDisplayName": "Azure Portal",
            "AppId": AZURE_PORTAL_APP_ID,
            "AuthenticationContextClassReferences": "[]",
            "AuthenticationDetails": "[]", "AuthenticationMethodsUsed": "",
            "AuthenticationProcessingDetails":
                '[{"key":"IsCAEToken","value":"False"}]',
            "AuthenticationProtocol": "none",
            "AuthenticationRequirement": "singleFactorAuthentication",
            "AuthenticationRequirementPolicies": "[]",
            "AutonomousSystemNumber": "64496", "ClientAppUsed": "Browser",
            "ConditionalAccessPolicies": [],
            "ConditionalAccessStatus": "notApplied",
            "CreatedDateTime": event, "CrossTenantAccessType": "none",
            "DeviceDetail": dict(DEFAULT_DEVICE), "FlaggedForReview": False,
            "HomeTenantId": tenant, "Id": guid(), "IPAddress": "203.0.113.7",
            "IsInteractive": table == "SigninLogs", "IsRisky": False,
            "LocationDetails": json.loads(json.dumps(DEFAULT_LOCATION)),
            "MfaDetail": {}, "NetworkLocationDetails": "[]",
            "OriginalRequestId": guid(),
            "ProcessingTimeInMilliseconds": "112", "ProcessingTimeInMs": "112",
            "RiskDetail": "none", "RiskEventTypes": "[]",
            "RiskEventTypes_V2": "[]", "RiskLevelAggregated": "none",
            "RiskLevelDuringSignIn": "none", "RiskState": "none",
            "ResourceDisplayName": "Windows Azure Service Management API",
            "ResourceIdentity": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
            "ResourceTenantId": tenant, "ServicePrincipalId": "",
            "ServicePrincipalName": "", "SignInIdentifier": upn,
            "SignInIdentifierType": "userPrincipalName", "Status": status,
            "TokenIssuerName": "", "TokenIssuerType": "AzureAD",
            "UniqueTokenIdentifier": base64.urlsafe_b64encode(
                secrets.token_bytes(16)).decode().rstrip("="),
            "UserAgent": DEFAULT_UA, "UserDisplayName": display,
            "UserId": guid(), "UserPrincipalName": upn,
            "UserType": "Member", "AppliedEventListeners": [],
            "SignInEventTypes": '["interactiveUser"]'
            if table == "SigninLogs" else '["nonInteractiveUser"]',
        })
        types = dict(self.schemas[table])
        # Structured columns typed `string` (non-interactive table) hold
        # JSON text.
        for col, val in list(base.items()):
            if types.get(col) == "string" and isinstance(val, (dict, list)):
                base[col] = json.dumps(val, separators=(",", ":"))
        return base

    def visible_tables(self, now):
        """name -> (schema, rows visible now), a snapshot."""
        with self.lock:
            return {name: (list(self.schemas[name]),
                           [r for r in rows if r["$ingest"] <= now])
                    for name, rows in self.tables.items()}

    def any_rows(self):
        """Rows a test added (the background ones do not count)."""
        with self.lock:
            return any(not r.get("$background")
                       for rows in self.tables.values() for r in rows)

    # -- request log
    def log_request(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.requests.append(entry)
            if len(self.requests) > 20000:
                del self.requests[:5000]
            self.stats["requests"] += 1
            key = str(entry.get("status"))
            self.stats["by_status"][key] = \
                self.stats["by_status"].get(key, 0) + 1
        line = "simtenant: %s %s %s -> %s" % (
            entry["time"], entry["method"], entry["path"], entry["status"])
        for k in ("error", "rows", "fault", "scope"):
            if entry.get(k) is not None:
                line += " %s=%s" % (k, entry[k])
        print(line, file=sys.stderr, flush=True)

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n


def _infer_type(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "long"
    if isinstance(v, float):
        return "real"
    if isinstance(v, (dict, list)):
        return "dynamic"
    return "string"


def _coerce(typ, v):
    """A control-API value -> the stored value for a column of `typ`."""
    if v is None:
        return None
    if typ == "datetime":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return int(v * TICKS_PER_SEC)       # Unix seconds
        return parse_datetime(str(v))
    if typ == "dynamic":
        if isinstance(v, str):
            try:
                return json.loads(v)
            except ValueError:
                return v
        return v
    if typ == "bool":
        if isinstance(v, str):
            if v.lower() not in ("true", "false"):
                raise ValueError("not a bool: %r" % v)
            return v.lower() == "true"
        return bool(v)
    if typ in ("long", "int"):
        return int(v)
    if typ in ("real", "decimal"):
        return float(v)
    if typ == "string" and isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if typ == "string" and isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# --------------------------------------------------------------------------
# Wire rendering of query results.

def render_cell(typ, v, settings):
    if v is None:
        return None
    if typ == "datetime":
        return format_ticks(v)
    if typ == "timespan":
        return format_timespan(v)
    if typ == "dynamic":
        if settings["dynamic_as"] == "nested":
            return v
        return v if isinstance(v, str) else to_text(v)
    if typ in ("bool", "long", "int", "real", "decimal"):
        mode = settings["scalars_as"]
        if isinstance(mode, dict):
            mode = mode.get(typ, "string")
        if mode == "native":
            return v
        if typ == "bool":
            return "true" if v else "false"
        return to_text(v)
    return to_text(v)


def render_table(schema, rows, settings):
    return {
        "name": "PrimaryResult",
        "columns": [{"name": c, "type": t or "string"} for c, t in schema],
        "rows": [[render_cell(t, r.get(c), settings) for c, t in schema]
                 for r in rows],
    }


# --------------------------------------------------------------------------
# Client assertions (API-FACTS 1.2): the JWT's header, claims and signature
# are checked against the app certificate given with --client-cert, the
# signature with the openssl command line.

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SKEW = 300        # seconds of clock skew allowed on nbf/exp


def b64url_decode(text):
    if not re.match(r"^[A-Za-z0-9_-]*$", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class AppCert:
    """The app registration's certificate: its thumbprints and public key
    (written to a file for `openssl dgst -verify`)."""

    def __init__(self, pem_path, workdir):
        with open(pem_path) as f:
            pem = f.read()
        der = ssl.PEM_cert_to_DER_cert(pem)
        self.x5t = b64url(hashlib.sha1(der).digest())
        self.x5t_s256 = b64url(hashlib.sha256(der).digest())
        self.pubkey = os.path.join(workdir, "client-pubkey.pem")
        subprocess.run(["openssl", "x509", "-in", pem_path, "-noout",
                        "-pubkey", "-out", self.pubkey], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=30)
        self.workdir = workdir

    def verify(self, alg, signing_input, sig):
        """Does sig verify over signing_input (RS256 or PS256 with a salt
        as long as the digest)?"""
        d = tempfile.mkdtemp(dir=self.workdir)
        try:
            data, sigf = os.path.join(d, "data"), os.path.join(d, "sig")
            with open(data, "wb") as f:
                f.write(signing_input)
            with open(sigf, "wb") as f:
                f.write(sig)
            cmd = ["openssl", "dgst", "-sha256", "-verify", self.pubkey,
                   "-signature", sigf]
            if alg == "PS256":
                cmd += ["-sigopt", "rsa_padding_mode:pss",
                        "-sigopt", "rsa_pss_saltlen:-1"]
            r = subprocess.run(cmd + [data], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            return r.returncode == 0
        finally:
            shutil.rmtree(d, ignore_errors=True)


def check_assertion(sim, form, client_id, endpoint, entry):
    """None when the client assertion is good, else the fail() arguments
    (status, error, AADSTS code, text) Entra would answer with."""
    if form.get("client_assertion_type") != JWT_BEARER:
        return (400, "invalid_request", 50027,
                "Invalid client_assertion_type '%s'; expected '%s'."
                % (form.get("client_assertion_type"), JWT_BEARER))
    parts = form["client_assertion"].split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("not JSON objects")
    except (ValueError, UnicodeDecodeError):
        return (401, "invalid_client", 50027,
                "JWT token is invalid or malformed.")
    entry["assertion_header"] = header
    entry["assertion_claims"] = claims
    cert = sim.app_cert
    alg = header.get("alg")
    if alg not in ("PS256", "RS256") or header.get("typ") not in \
            (None, "JWT"):
        return (401, "invalid_client", 700027,
                "Client assertion failed signature validation. [Reason - "
                "The provided signature algorithm '%s' is not supported.]"
                % alg)
    if "x5t#S256" in header:
        known = cert is not None and header["x5t#S256"] == cert.x5t_s256
    elif "x5t" in header:
        known = cert is not None and header["x5t"] == cert.x5t
    else:
        known = False
    if not known:
        return (401, "invalid_client", 700027,
                "Client assertion contains an invalid signature. [Reason - "
                "The key was not found., Thumbprint of key used by client: "
                "'%s', Please visit the Azure Portal, Graph Explorer or "
                "directly use MS Graph to see configured keys for app Id "
                "'%s'.]" % (header.get("x5t#S256") or header.get("x5t"),
                            client_id))
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    if not cert.verify(alg, signing_input, sig):
        return (401, "invalid_client", 700027,
                "Client assertion failed signature validation.")
    if claims.get("aud") != endpoint:
        return (401, "invalid_client", 50012,
                "Authentication failed. The audience claim '%s' does not "
                "match the token endpoint." % claims.get("aud"))
    if claims.get("iss") != claims.get("sub"):
        return (401, "invalid_client", 50048,
                "Subject mismatches Issuer claim in the client assertion.")
    if str(claims.get("iss", "")).lower() != client_id.lower():
        return (401, "invalid_client", 50012,
                "Authentication failed. The issuer of the client assertion "
                "is not the client '%s'." % client_id)
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        return (401, "invalid_client", 50027,
                "JWT token is invalid or malformed: no jti.")
    nbf, exp, now = claims.get("nbf"), claims.get("exp"), time.time()
    if not isinstance(nbf, int) or not isinstance(exp, int) or \
            isinstance(nbf, bool) or isinstance(exp, bool) or \
            now + ASSERTION_SKEW < nbf or now >= exp + ASSERTION_SKEW:
        return (401, "invalid_client", 700024,
                "Client assertion is not within its valid time range. "
                "Current time: %s, assertion valid from %s, expiry time of "
                "assertion %s." % (time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), nbf, exp))
    return None


# --------------------------------------------------------------------------
# Error bodies.

def aad_error(error, code, description, correlation_id=None):
    """A token-endpoint error body, API-FACTS 1.4."""
    ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    trace, corr = guid(), correlation_id or guid()
    return {
        "error": error,
        "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\n"
                             "Correlation ID: %s\r\nTimestamp: %s"
                             % (code, description, trace, corr, ts),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": "https://login.microsoftonline.com/error?code=%d" % code,
    }


def la_error(code, message, inner=None, details=None):
    """A OneAPI error body, API-FACTS 2.3."""
    err = {"message": message, "code": code}
    if details is not None:
        err["details"] = details
    if inner is not None:
        err["innererror"] = inner
    return {"error": err}


def kql_error_body(e):
    if e.kind == "SyntaxError":
        inner = {"code": "SyntaxError",
                 "message": "A recognition error occurred in the query.",
                 "innererror": {"code": "SYN0002",
                                "message": "Query could not be parsed at "
                                           "'%s' on line [%s,%s]: %s"
                                           % (e.token, e.line, e.col, e),
                                "line": e.line, "pos": e.col,
                                "token": e.token}}
    else:
        inner = {"code": "SemanticError",
                 "message": "A semantic error occurred.",
                 "innererror": {"code": "SEM0100", "message": str(e)}}
    return la_error("BadArgumentError",
                    "The request had some invalid properties", inner=inner)


PARTIAL_ERROR = {
    "code": "PartialError",
    "message": "There were some errors when processing your query.",
    "details": [{
        "code": "EngineError",
        "message": "Something went wrong processing your query on the "
                   "server.",
        "innererror": {
            "code": "-2133196797",
            "message": "Partial query failure: Low memory condition "
                       "(E_LOW_MEMORY_CONDITION).",
            "severity": 2, "severityName": "Error"},
    }],
}


def default_fault_body(path, status):
    """A real-shaped body for an injected error status."""
    if path == "imds":
        return imds_error_body(status)
    if path == "graph":
        return graph_fault_body(status)
    if path == "token":
        if status == 429:
            return aad_error("temporarily_unavailable", 90055,
                             "The request is throttled temporarily. Please "
                             "try after some time.")
        if status >= 500:
            return aad_error("temporarily_unavailable", 90033,
                             "A transient error has occurred. Please try "
                             "again.")
        if status == 401:
            return aad_error("invalid_client", 7000215,
                             "Invalid client secret provided.")
        return aad_error("invalid_request", 900144, "The request body must "
                         "contain the following parameter: 'grant_type'.")
    table = {
        400: ("BadArgumentError", "The request had some invalid properties"),
        401: ("AuthenticationFailed",
              "Authentication failed. The access token has expired."),
        403: ("InvalidAuthenticationToken", "The access token is invalid."),
        404: ("PathNotFoundError", "The requested path does not exist"),
        408: ("RequestTimeout", "The request timed out."),
        429: ("ThrottledError", "Your request was throttled; too many "
              "requests or queries are queued. Retry later."),
        500: ("InternalServerError", "An internal error occurred."),
        502: ("BadGateway", "The gateway received an invalid response."),
        503: ("ServiceUnavailableError",
              "The service is temporarily unavailable."),
        504: ("GatewayTimeout", "The query exceeded the allowed time."),
    }
    code, msg = table.get(status, ("Error%d" % status, "Injected error."))
    return la_error(code, msg)


# --------------------------------------------------------------------------
# Microsoft Graph (API-FACTS.md 3): the audit-log lists, answered from the
# same tables as Log Analytics. A SigninLogs or
# AADNonInteractiveUserSignInLogs row becomes a signIn object, an AuditLogs
# row a directoryAudit; a row is visible when its ingestion time has come.

GRAPH_AUDIENCE = "https://graph.microsoft.com"
NONINTERACTIVE_TABLE = "AADNonInteractiveUserSignInLogs"
GRAPH_MAX_TOP = 1000


class GraphFilterError(Exception):
    pass


def _dyn(v):
    """A dynamic cell as a Python value (the non-interactive table keeps
    JSON text)."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _ticks_text(v):
    return format_ticks(v) if isinstance(v, int) else v


def graph_signin(row, table):
    status = _dyn(row.get("Status")) or {}
    if not isinstance(status, dict):
        status = {}
    loc = _dyn(row.get("LocationDetails")) or {}
    if not isinstance(loc, dict):
        loc = {}
    events = ["interactiveUser"] if table == "SigninLogs" \
        else ["nonInteractiveUser"]
    return {
        "id": row.get("Id"),
        "createdDateTime": _ticks_text(row.get("CreatedDateTime") or
                                       row.get("TimeGenerated")),
        "userDisplayName": row.get("UserDisplayName"),
        "userPrincipalName": row.get("UserPrincipalName"),
        "userId": row.get("UserId"),
        "appId": row.get("AppId"),
        "appDisplayName": row.get("AppDisplayName"),
        "ipAddress": row.get("IPAddress"),
        "clientAppUsed": row.get("ClientAppUsed"),
        "correlationId": row.get("CorrelationId"),
        "conditionalAccessStatus": row.get("ConditionalAccessStatus"),
        "isInteractive": table == "SigninLogs",
        "status": {"errorCode": status.get("errorCode", 0),
                   "failureReason": status.get("failureReason"),
                   "additionalDetails": status.get("additionalDetails")},
        "location": {"city": loc.get("city"), "state": loc.get("state"),
                     "countryOrRegion": loc.get("countryOrRegion"),
                     "geoCoordinates": loc.get("geoCoordinates")},
        "deviceDetail": _dyn(row.get("DeviceDetail")),
        "signInEventTypes": events,
    }


def graph_audit(row):
    init = _dyn(row.get("InitiatedBy")) or {}
    if isinstance(init, dict):
        init = {"user": init.get("user"), "app": init.get("app")}
    return {
        "id": row.get("Id"),
        "category": row.get("Category"),
        "correlationId": row.get("CorrelationId"),
        "result": row.get("Result"),
        "resultReason": row.get("ResultReason"),
        "activityDisplayName": row.get("ActivityDisplayName"),
        "activityDateTime": _ticks_text(row.get("ActivityDateTime") or
                                        row.get("TimeGenerated")),
        "loggedByService": row.get("LoggedByService"),
        "operationType": row.get("AADOperationType"),
        "initiatedBy": init,
        "targetResources": _dyn(row.get("TargetResources")) or [],
        "additionalDetails": _dyn(row.get("AdditionalDetails")) or [],
    }


_GF_TOKEN = re.compile(r"\s*(?:(\()|(\))|('(?:[^']|'')*')|(:)|"
                       r"([A-Za-z_][\w/.]*)|"
                       r"(\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?))")


def _gf_tokens(text):
    out, i = [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _GF_TOKEN.match(text, i)
        if not m or m.end() == i:
            raise GraphFilterError("Invalid filter clause: unexpected "
                                   "text at %d" % i)
        lp, rp, s, colon, word, dt = m.groups()
        if lp:
            out.append(("(", None))
        elif rp:
            out.append((")", None))
        elif s is not None:
            out.append(("str", s[1:-1].replace("''", "'")))
        elif colon:
            out.append((":", None))
        elif dt:
            out.append(("dt", parse_datetime(dt)))
        else:
            out.append(("word", word))
        i = m.end()
    return out


def _gf_get(obj, path):
    for part in path.split("/"):
        if not isinstance(obj, dict):
            return None
        # Keys compare case-insensitively (the doc's own "Type").
        hit = None
        for k, v in obj.items():
            if k.lower() == part.lower():
                hit = v
                break
        obj = hit
    return obj


def _gf_eq(a, b):
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


class GraphFilter:
    """The $filter subset the daemon sends (API-FACTS.md 3.1, 3.2):
    clauses joined with and / or, parentheses, `prop eq 'x'`,
    `prop ge|le DATETIME`, `coll/any(t: t eq 'x')` and
    `coll/any(t: t/prop eq 'x')`."""

    def __init__(self, text):
        self.toks = _gf_tokens(text)
        self.i = 0
        self.has_or = False
        self.props = set()
        self.pred = self.or_expr()
        if self.i != len(self.toks):
            raise GraphFilterError("Invalid filter clause: trailing text")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None,
                                                                  None)

    def take(self, kind, value=None):
        t = self.peek()
        if t[0] != kind or (value is not None and
                            (t[1] or "").lower() != value):
            raise GraphFilterError("Invalid filter clause: expected %s"
                                   % (value or kind))
        self.i += 1
        return t[1]

    def or_expr(self):
        left = self.and_expr()
        while self.peek() == ("word", "or"):
            self.i += 1
            self.has_or = True
            right = self.and_expr()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def and_expr(self):
        left = self.primary()
        while self.peek() == ("word", "and"):
            self.i += 1
            right = self.primary()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def primary(self):
        if self.peek()[0] == "(":
            self.i += 1
            e = self.or_expr()
            self.take(")")
            return e
        prop = self.take("word")
        if prop.lower().endswith("/any"):
            coll = prop[:-4]
            self.props.add(coll.lower())
            self.take("(")
            var = self.take("word")
            self.take(":")
            path = self.take("word")
            self.take("word", "eq")
            value = self.take("str")
            self.take(")")
            if path == var:
                sub = None
            elif path.startswith(var + "/"):
                sub = path[len(var) + 1:]
            else:
                raise GraphFilterError("Invalid filter clause: lambda "
                                       "variable")

            def any_fn(o, coll=coll, sub=sub, value=value):
                items = _gf_get(o, coll)
                if not isinstance(items, list):
                    return False
                return any(_gf_eq(x if sub is None else _gf_get(x, sub),
                                  value) for x in items)
            return any_fn
        self.props.add(prop.lower())
        op = self.take("word").lower()
        kind, value = self.peek()
        if kind not in ("str", "dt"):
            raise GraphFilterError("Invalid filter clause: a value")
        self.i += 1
        if op == "eq":
            return lambda o: _gf_eq(_gf_get(o, prop), value)
        if op in ("ge", "le") and kind == "dt":
            def cmp_fn(o, op=op):
                v = _gf_get(o, prop)
                if not isinstance(v, str):
                    return False
                t = parse_datetime(v)
                return t >= value if op == "ge" else t <= value
            return cmp_fn
        raise GraphFilterError("Invalid filter clause: operator %s" % op)


def graph_error(code, message):
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": time.strftime(
                          "%Y-%m-%dT%H:%M:%S", time.gmtime()),
                          "request-id": guid(),
                          "client-request-id": guid()}}}


def graph_fault_body(status):
    table = {
        400: ("BadRequest", "Invalid filter clause"),
        401: ("InvalidAuthenticationToken", "Access token has expired or "
              "is not yet valid."),
        403: ("Authorization_RequestDenied", "Insufficient privileges to "
              "complete the operation."),
        429: ("TooManyRequests", "Too many requests."),
        500: ("UnknownError", "An internal error occurred."),
        503: ("ServiceUnavailable", "The service is temporarily "
              "unavailable."),
        504: ("GatewayTimeout", "The gateway timed out."),
    }
    code, msg = table.get(status, ("Error%d" % status, "Injected error."))
    return graph_error(code, msg)


# --------------------------------------------------------------------------
# The HTTPS API server.

class Answer:
    """What a handler decided to send."""

    def __init__(self, status, body=None, headers=None, raw=None,
                 error=None, rows=None, mode="normal"):
        self.status, self.body, self.headers = status, body, headers or {}
        self.raw, self.error, self.rows, self.mode = raw, error, rows, mode


def _json_bytes(obj):
    return json.dumps(obj, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, like the real services
    timeout = 60

    def version_string(self):
        return "simtenant/1"

    def setup(self):
        super().setup()
        sock = self.request
        try:
            sock.settimeout(10)
            sock.do_handshake()
            sock.settimeout(self.timeout)
            self.server.sim.count("tls_handshakes")
        except (ssl.SSLError, OSError) as e:
            self.server.sim.count("tls_failures")
            print("simtenant: TLS handshake with %s:%s failed: %s"
                  % (self.client_address[0], self.client_address[1], e),
                  file=sys.stderr, flush=True)
            self.close_connection = True
            self.handshake_failed = True
            return
        self.handshake_failed = False

    def handle(self):
        if getattr(self, "handshake_failed", False):
            return
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, socket.timeout):
            pass

    def log_message(self, fmt, *args):
        pass                            # one line per request, from Sim

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip()
                           or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > 8 * 1024 * 1024:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        sim = self.server.sim
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        url = urllib.parse.urlsplit(self.path)
        entry = {"time": format_ticks(now_ticks()), "t": time.time(),
                 "method": method, "path": url.path, "query": None,
                 "timespan": None, "fault": None}
        m_tok = re.match(r"^/([^/]+)/oauth2/v2\.0/token$", url.path)
        m_qry = re.match(r"^/v1/workspaces/([^/]+)/query$", url.path)
        m_graph = re.match(r"^/(v1\.0|beta)/auditLogs/"
                           r"(signIns|directoryAudits)$", url.path, re.I)
        m_app = re.match(r"^/v1\.0/applications\(appId='([^']+)'\)$",
                         urllib.parse.unquote(url.path))
        if m_tok and method == "POST":
            entry["kind"] = "token"
            sim.count("token_requests")
            ans = self.token(sim, m_tok.group(1), body, entry)
            if ans.status == 200 and ans.mode == "normal":
                sim.count("tokens_issued")
            elif ans.status != 200:
                sim.count("token_errors")
        elif m_qry and method in ("POST", "GET"):
            entry["kind"] = "query"
            sim.count("query_requests")
            ans = self.query(sim, m_qry.group(1), method, url, body, entry)
            if ans.status == 200 and ans.rows is not None:
                sim.count("queries_ok")
                sim.count("rows_returned", ans.rows)
            elif ans.status >= 400:
                sim.count("query_errors")
        elif m_graph and method == "GET":
            entry["kind"] = "graph"
            sim.count("graph_requests")
            ans = self.graph(sim, m_graph.group(1).lower(),
                             m_graph.group(2).lower(), url, entry)
            if ans.status == 200 and ans.rows is not None:
                sim.count("graph_ok")
        elif m_app and method == "GET":
            entry["kind"] = "application"
            ans = self.application(sim, m_app.group(1), url, entry)
        elif method == "GET" and simposture.match(url.path):
            entry["kind"] = "posture"
            ans = self.posture(sim, url, entry)
        else:
            entry["kind"] = "other"
            ans = Answer(404, la_error("PathNotFoundError",
                                       "The requested path does not exist"),
                         error="PathNotFoundError")
        entry["status"] = ans.status if ans.mode != "drop" else None
        entry["error"] = ans.error
        entry["rows"] = ans.rows
        sim.log_request(entry)
        self._send(ans)

    def _apply_pre_fault(self, sim, path, entry):
        f = sim.take_fault(path, "pre")
        if f is None:
            return None
        entry["fault"] = f["kind"]
        if f["delay"] > 0:
            time.sleep(min(f["delay"], 600))
        if f["kind"] == "delay":
            return None
        if f["kind"] == "drop":
            return Answer(0, mode="drop")
        status = f["status"]
        headers = {}
        if f.get("retry_after") is not None:
            headers["Retry-After"] = str(f["retry_after"])
        if status == 401 and path in ("query", "graph"):
            headers["WWW-Authenticate"] = \
                'Bearer authorization_uri="https://login.microsoftonline.com' \
                '/common/oauth2/authorize", error="invalid_token", ' \
                'error_description="The access token expired"'
        if f.get("body") is not None:
            raw = f["body"] if isinstance(f["body"], str) \
                else json.dumps(f["body"])
            return Answer(status, raw=raw.encode("utf-8"), headers=headers,
                          error="injected")
        body = default_fault_body(path, status) if status >= 400 else None
        err = None
        if body:
            err = body["error"] if isinstance(body["error"], str) \
                else body["error"]["code"]
        return Answer(status, body, headers=headers, error=err)

    def _apply_data_fault(self, sim, path, entry, ans, payload):
        f = sim.take_fault(path, "data")
        if f is None:
            return ans
        entry["fault"] = f["kind"]
        if f["delay"] > 0:
            time.sleep(min(f["delay"], 600))
        kind = f["kind"]
        if kind == "partial_error":
            payload = dict(payload)
            payload["error"] = f["body"] if isinstance(f.get("body"), dict) \
                else PARTIAL_ERROR
            return Answer(200, payload, rows=ans.rows, error="PartialError")
        if kind == "empty_200":
            return Answer(200, raw=b"", rows=None)
        if kind == "no_content_204":
            return Answer(204, raw=b"", rows=None)
        if kind == "malformed":
            full = _json_bytes(payload)
            return Answer(200, raw=full[:max(1, len(full) // 2)] + b"}]\x00",
                          rows=None, error="malformed")
        if kind == "truncated":
            return Answer(200, raw=_json_bytes(payload), rows=None,
                          mode="truncated", error="truncated")
        if kind == "oversize":
            # A valid answer padded past the client's cap (size bytes).
            payload = dict(payload)
            payload["padding"] = "x" * f["size"]
            return Answer(200, raw=_json_bytes(payload), rows=None,
                          error="oversize")
        return ans

    # -- POST /{tenant}/oauth2/v2.0/token
    def token(self, sim, tenant, body, entry):
        pre = self._apply_pre_fault(sim, "token", entry)
        if pre is not None:
            return pre
        corr = self.headers.get("client-request-id")

        def fail(status, error, code, text):
            entry["aadsts"] = code
            return Answer(status, aad_error(error, code, text, corr),
                          headers={"Cache-Control": "no-store, no-cache",
                                   "Pragma": "no-cache"},
                          error="%s/AADSTS%d" % (error, code))

        if tenant.lower() != sim.tenant_id:
            return fail(400, "invalid_request", 90002,
                        "Tenant '%s' not found. Check to make sure you have "
                        "the correct tenant ID and are signing into the "
                        "correct cloud. Check with your subscription "
                        "administrator, this may happen if there are no "
                        "active subscriptions for the tenant." % tenant)
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        form = {}
        if ctype.lower() == "application/x-www-form-urlencoded":
            try:
                form = {k: v[0] for k, v in urllib.parse.parse_qs(
                    body.decode("utf-8"), keep_blank_values=True).items()}
            except UnicodeDecodeError:
                form = {}
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            # RFC 6749 2.3.1: client_id:client_secret, each form-encoded.
            try:
                pair = base64.b64decode(auth[6:].strip()).decode("utf-8")
                cid, _, sec = pair.partition(":")
                client_id = client_id or urllib.parse.unquote_plus(cid)
                secret = secret or urllib.parse.unquote_plus(sec)
            except (ValueError, UnicodeDecodeError):
                pass
        entry["client_id"] = client_id
        entry["scope"] = form.get("scope")
        for name in ("grant_type", "client_id", "scope"):
            if not (client_id if name == "client_id" else form.get(name)):
                return fail(400, "invalid_request", 900144,
                            "The request body must contain the following "
                            "parameter: '%s'." % name)
        if form["grant_type"] != "client_credentials":
            return fail(400, "unsupported_grant_type", 70003,
                        "The app requested an unsupported grant type '%s'."
                        % form["grant_type"])
        if client_id.lower() != sim.client_id:
            return fail(400, "unauthorized_client", 700016,
                        "Application with identifier '%s' was not found in "
                        "the directory '%s'. This can happen if the "
                        "application has not been installed by the "
                        "administrator of the tenant or consented to by "
                        "any user in the tenant. You may have sent your "
                        "authentication request to the wrong tenant."
                        % (client_id, tenant))
        assertion = form.get("client_assertion")
        if not secret and assertion:
            entry["credential"] = "assertion"
            bad = check_assertion(sim, form, client_id,
                                  "https://%s%s" % (
                                      self.headers.get("Host", ""),
                                      urllib.parse.urlsplit(self.path).path),
                                  entry)
            if bad is not None:
                return fail(*bad)
        elif not secret:
            return fail(401, "invalid_client", 7000218,
                        "The request body must contain the following "
                        "parameter: 'client_assertion' or 'client_secret'.")
        else:
            entry["credential"] = "secret"
            if sim.args.client_secret_file is None or \
                    not secrets.compare_digest(secret.encode("utf-8"),
                                               sim.secret().encode("utf-8")):
                return fail(401, "invalid_client", 7000215,
                            "Invalid client secret provided. Ensure the "
                            "secret being sent in the request is the client "
                            "secret value, not the client secret ID, for a "
                            "secret added to app '%s'." % client_id)
        with sim.lock:
            expired, ttl = sim.settings["secret_expired"], \
                int(sim.settings["token_ttl"])
        if expired and entry["credential"] == "secret":
            return fail(401, "invalid_client", 7000222,
                        "The provided client secret keys for app '%s' are "
                        "expired. Visit the Azure portal to create new keys "
                        "for your app: https://aka.ms/NewClientSecret, or "
                        "consider using certificate credentials for added "
                        "security: https://aka.ms/certCreds." % client_id)
        scopes = form["scope"].split()
        aud = AUDIENCES.get(scopes[0]) if len(scopes) == 1 else None
        if aud is None:
            return fail(400, "invalid_scope", 70011,
                        "The provided value for scope %s is not valid. "
                        "Client credential flows must have a scope value "
                        "with /.default suffixed to the resource identifier "
                        "(application ID URI)." % form["scope"])
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + \
            secrets.token_urlsafe(900) + "." + secrets.token_urlsafe(192)
        with sim.lock:
            sim.tokens[token] = {"aud": aud, "client_id": client_id,
                                 "exp": now_ticks() + ttl * TICKS_PER_SEC}
        entry["audience"] = aud
        payload = {"token_type": "Bearer", "expires_in": ttl,
                   "ext_expires_in": ttl, "access_token": token}
        ans = Answer(200, payload,
                     headers={"Cache-Control": "no-store, no-cache",
                              "Pragma": "no-cache"})
        return self._apply_data_fault(sim, "token", entry, ans, payload)

    # -- POST /v1/workspaces/{id}/query
    def query(self, sim, workspace, method, url, body, entry):
        params = urllib.parse.parse_qs(url.query)
        if method == "GET":
            entry["query"] = params.get("query", [None])[0]
            entry["timespan"] = params.get("timespan", [None])[0]
        else:
            try:
                peek = json.loads(body.decode("utf-8")) if body else None
            except (ValueError, UnicodeDecodeError):
                peek = None
            if isinstance(peek, dict):
                entry["query"] = peek.get("query")
                entry["timespan"] = peek.get("timespan")
        pre = self._apply_pre_fault(sim, "query", entry)
        if pre is not None:
            return pre
        auth = self.headers.get("Authorization")
        if not auth:
            return Answer(401, la_error(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is "
                "missing."), error="AuthenticationFailed")
        scheme, _, token = auth.partition(" ")
        with sim.lock:
            info = sim.tokens.get(token.strip()) \
                if scheme.lower() == "bearer" else None
            expired_status = sim.settings["expired_token_status"]
        now = now_ticks()
        if info is None:
            return Answer(403, la_error("InvalidAuthenticationToken",
                                        "The access token is invalid."),
                          error="InvalidAuthenticationToken")
        if now >= info["exp"]:
            if expired_status == 401:
                return Answer(401, la_error(
                    "AuthenticationFailed",
                    "Authentication failed. The access token has expired."),
                    headers={"WWW-Authenticate":
                             'Bearer authorization_uri="https://login.'
                             'microsoftonline.com/common/oauth2/authorize",'
                             ' error="invalid_token", error_description='
                             '"The access token expired"'},
                    error="TokenExpired")
            return Answer(403, la_error("InvalidAuthenticationToken",
                                        "The access token is invalid."),
                          error="InvalidAuthenticationToken(expired)")
        if info["aud"] != "https://api.loganalytics.io":
            return Answer(403, la_error(
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained from wrong audience or "
                "resource '%s'. It should exactly match (including forward "
                "slash) with one of the allowed audiences "
                "'https://api.loganalytics.io'." % info["aud"]),
                error="InvalidAuthenticationTokenAudience")
        if method == "POST":
            ctype = self.headers.get("Content-Type", "")
            if not body or ctype.split(";")[0].strip().lower() != \
                    "application/json":
                # Real quirk: no JSON body or no JSON content type -> an
                # empty 200 (API-FACTS 2.1).
                return Answer(200, raw=b"", error="empty-body-quirk")
        if workspace.lower() != sim.workspace_id:
            return Answer(404, la_error("WorkspaceNotFoundError",
                                        "The workspace could not be found"),
                          error="WorkspaceNotFoundError")
        if method == "POST":
            try:
                req = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                req = None
            if not isinstance(req, dict):
                return Answer(400, la_error(
                    "BadArgumentError", "The request had some invalid "
                    "properties", details=[{
                        "code": "InvalidJsonBody",
                        "message": "The request body is not valid JSON."}]),
                    error="BadArgumentError")
            kql, span = req.get("query"), req.get("timespan")
        else:
            kql, span = entry["query"], entry["timespan"]
        if not isinstance(kql, str) or not kql.strip():
            return Answer(400, la_error(
                "BadArgumentError", "The request had some invalid properties",
                details=[{"code": "InvalidProperty", "target": "query",
                          "message": "The 'query' property is required."}]),
                error="BadArgumentError")
        window = None
        if span is not None:
            try:
                window = parse_timespan_param(str(span), now)
            except ValueError:
                return Answer(400, la_error(
                    "BadArgumentError",
                    "The request had some invalid properties",
                    details=[{"code": "InvalidProperty", "target": "timespan",
                              "message": "'%s' is not a valid ISO 8601 "
                                         "duration or interval." % span}]),
                    error="BadArgumentError")
        with sim.lock:
            settings = dict(sim.settings)
        if settings["empty_workspace_204"] and not sim.any_rows():
            return Answer(204, raw=b"", error="empty-workspace")
        tables = sim.visible_tables(now)
        if window is not None:
            lo, hi = window
            tables = {name: (schema, [r for r in rows
                                      if r.get("TimeGenerated") is not None
                                      and lo <= r["TimeGenerated"] <= hi])
                      for name, (schema, rows) in tables.items()}
        try:
            schema, rows = run_kql(kql, tables, now)
        except KqlError as e:
            return Answer(400, kql_error_body(e),
                          error="BadArgumentError/%s: %s" % (e.kind, e))
        except RecursionError:
            return Answer(400, kql_error_body(
                KqlError("SyntaxError", "query too deeply nested")),
                error="BadArgumentError/SyntaxError")
        payload = {"tables": [render_table(schema, rows, settings)]}
        ans = Answer(200, payload, rows=len(rows))
        return self._apply_data_fault(sim, "query", entry, ans, payload)

    # -- GET /{v1.0|beta}/auditLogs/{signIns|directoryAudits}
    def application(self, sim, app_id, url, entry):
        """The app registration's credentials: one client secret whose
        hint is the first three characters of the secret the sim checks
        (Graph never returns secret values), and another app's-style
        older one that does not match."""
        entry["query"] = url.query
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        with sim.lock:
            info = sim.tokens.get(token.strip()) \
                if scheme.lower() == "bearer" else None
            settings = dict(sim.settings)
        if info is None or now_ticks() >= info["exp"] or \
                info["aud"] != GRAPH_AUDIENCE:
            return Answer(401, graph_error("InvalidAuthenticationToken",
                                           "Access token is invalid."),
                          error="InvalidAuthenticationToken")
        if settings["app_read_denied"]:
            return Answer(403, graph_error(
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation."),
                error="Authorization_RequestDenied")
        if app_id.lower() != sim.client_id:
            return Answer(404, graph_error("Request_ResourceNotFound",
                                           "Resource not found."),
                          error="Request_ResourceNotFound")
        secret = sim.secret()
        creds = [{"keyId": guid(), "displayName": "old", "hint": "zz9",
                  "startDateTime": "2024-01-01T00:00:00Z",
                  "endDateTime": "2025-01-01T00:00:00Z",
                  "secretText": None}]
        if settings["app_secret_end"] is not None:
            creds.append({"keyId": guid(), "displayName": "glasswatch",
                          "hint": secret[:3],
                          "startDateTime": "2026-01-01T00:00:00Z",
                          "endDateTime": settings["app_secret_end"],
                          "secretText": None})
        return Answer(200, {"@odata.context": "https://graph.microsoft.com/"
                            "v1.0/$metadata#applications(passwordCredentials,"
                            "keyCredentials)/$entity",
                            "passwordCredentials": creds,
                            "keyCredentials": []}, rows=len(creds))

    def posture(self, sim, url, entry):
        """The directory reads of the posture checks (simposture.py)."""
        entry["query"] = url.query
        pre = self._apply_pre_fault(sim, "posture", entry)
        if pre is not None:
            return pre
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        with sim.lock:
            info = sim.tokens.get(token.strip()) \
                if scheme.lower() == "bearer" else None
        if info is None or now_ticks() >= info["exp"] or \
                info["aud"] != GRAPH_AUDIENCE:
            return Answer(401, graph_error("InvalidAuthenticationToken",
                                           "Access token is invalid."),
                          error="InvalidAuthenticationToken")
        params = {k: v[0] for k, v in urllib.parse.parse_qs(
            url.query, keep_blank_values=True).items()}
        with sim.lock:
            status, body, rows = sim.posture.answer(
                url.path, params, self.headers.get("Host", ""))
        err = body["error"]["code"] if status >= 400 else None
        return Answer(status, body, rows=rows, error=err)

    def graph(self, sim, version, what, url, entry):
        params = {k: v[0] for k, v in urllib.parse.parse_qs(
            url.query, keep_blank_values=True).items()}
        text = params.get("$filter")
        entry["query"] = text
        entry["skiptoken"] = params.get("$skiptoken")
        pre = self._apply_pre_fault(sim, "graph", entry)
        if pre is not None:
            return pre

        def fail(status, code, msg, headers=None):
            return Answer(status, graph_error(code, msg), headers=headers,
                          error=code)

        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        with sim.lock:
            info = sim.tokens.get(token.strip()) \
                if scheme.lower() == "bearer" else None
            settings = dict(sim.settings)
        now = now_ticks()
        if not auth:
            return fail(401, "InvalidAuthenticationToken",
                        "Access token is empty.")
        if info is None or now >= info["exp"]:
            return fail(401, "InvalidAuthenticationToken",
                        "Access token has expired or is not yet valid.")
        if info["aud"] != GRAPH_AUDIENCE:
            return fail(401, "InvalidAuthenticationToken",
                        "Invalid audience.")
        try:
            top = int(params.get("$top") or GRAPH_MAX_TOP)
        except ValueError:
            return fail(400, "BadRequest", "Invalid $top value.")
        if top < 1 or top > GRAPH_MAX_TOP:
            return fail(400, "BadRequest", "Invalid page size specified: "
                        "'%d'. Must be between 1 and %d inclusive."
                        % (top, GRAPH_MAX_TOP))
        try:
            skip = int(base64.urlsafe_b64decode(
                params["$skiptoken"] + "==").decode()) \
                if "$skiptoken" in params else 0
        except (ValueError, UnicodeDecodeError):
            return fail(400, "BadRequest", "Invalid skip token.")
        flt = None
        if text:
            try:
                flt = GraphFilter(text)
            except (GraphFilterError, ValueError) as e:
                return fail(400, "BadRequest", str(e))
            if flt.has_or and settings["graph_reject_or"]:
                return fail(400, "BadRequest", "Invalid filter clause: "
                            "'or' is not supported on this property.")
        tables = sim.visible_tables(now)
        objs = []
        if what == "directoryaudits" and version == "v1.0":
            objs = [graph_audit(r) for r in tables.get(
                "AuditLogs", ([], []))[1]]
            when = "activityDateTime"
        elif what == "signins":
            objs = [graph_signin(r, "SigninLogs") for r in tables.get(
                "SigninLogs", ([], []))[1]]
            if version == "beta":
                objs += [graph_signin(r, NONINTERACTIVE_TABLE) for r in
                         tables.get(NONINTERACTIVE_TABLE, ([], []))[1]]
                if flt is None or "signineventtypes" not in flt.props:
                    # Beta, like v1.0, lists interactive sign-ins unless
                    # asked for other types.
                    objs = [o for o in objs if o["isInteractive"]]
            else:
                for o in objs:
                    del o["signInEventTypes"]
            when = "createdDateTime"
        else:
            return fail(400, "BadRequest", "Resource not found for the "
                        "segment '%s'." % what)
        if flt is not None:
            objs = [o for o in objs if flt.pred(o)]
        objs.sort(key=lambda o: parse_datetime(o[when]), reverse=True)
        size = min(top, settings["graph_page_size"] or top)
        page = objs[skip:skip + size]
        base = "https://%s%s" % (self.headers.get("Host", ""), url.path)
        payload = {"@odata.context": "https://graph.microsoft.com/%s/"
                   "$metadata#auditLogs/%s" % (version, what),
                   "value": page}
        if skip + size < len(objs):
            q = dict(params)
            q["$skiptoken"] = base64.urlsafe_b64encode(
                str(skip + size).encode()).decode().rstrip("=")
            payload["@odata.nextLink"] = base + "?" + \
                urllib.parse.urlencode(q, quote_via=urllib.parse.quote)
        ans = Answer(200, payload, rows=len(page))
        return self._apply_data_fault(sim, "graph", entry, ans, payload)

    def _send(self, ans):
        if ans.mode == "drop":
            # Close without a word: the client sees the connection reset.
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if ans.raw is not None:
            data = ans.raw
        elif ans.body is not None:
            data = _json_bytes(ans.body)
        else:
            data = b""
        try:
            self.send_response(ans.status)
            if ans.status != 204:
                if data or ans.body is not None:
                    self.send_header("Content-Type",
                                     "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", guid())
            for k, v in ans.headers.items():
                self.send_header(k, v)
            if ans.mode == "truncated":
                self.send_header("Connection", "close")
            self.end_headers()
            if ans.mode == "truncated":
                # Promise the whole body, deliver half, hang up.
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if ans.status != 204:
                self.wfile.write(data)
            self.wfile.flush()
        except (OSError, ssl.SSLError):
            self.close_connection = True


class TlsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, sim, ctx):
        self.sim, self.ctx = sim, ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # The handshake runs in the handler thread, so a slow or hostile
        # client cannot stall the accept loop.
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr


# --------------------------------------------------------------------------
# The instance metadata service's managed identity endpoint (API-FACTS 1.6):
# plain HTTP, like the real one at 169.254.169.254, here on loopback.

IMDS_PATH = "/metadata/identity/oauth2/token"


def imds_error_body(status):
    """IMDS error bodies are {"error", "error_description"} only."""
    table = {
        400: ("invalid_request", "Bad request."),
        404: ("not_found", "IMDS is updating; try again later."),
        410: ("gone", "IMDS is updating; available within 70 seconds."),
        429: ("too_many_requests", "IMDS is throttling this VM; back off."),
        500: ("unknown_error", "An unexpected error occurred."),
        503: ("service_unavailable", "Identity service unavailable."),
    }
    error, desc = table.get(status, ("error_%d" % status,
                                     "Injected error."))
    return {"error": error, "error_description": desc}


class ImdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def version_string(self):
        return "simtenant-imds/1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        sim = self.server.sim
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 65536:
            self.rfile.read(length)
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(
            url.query, keep_blank_values=True).items()}
        entry = {"time": format_ticks(now_ticks()), "t": time.time(),
                 "kind": "imds", "method": method, "path": url.path,
                 "query": None, "timespan": None, "fault": None,
                 "metadata": self.headers.get("Metadata"),
                 "api_version": params.get("api-version"),
                 "resource": params.get("resource"),
                 "client_id": params.get("client_id"),
                 "params": sorted(params)}
        sim.count("imds_requests")
        ans = self.token(sim, method, url, params, entry)
        if ans.status == 200 and ans.mode == "normal":
            sim.count("imds_tokens_issued")
        entry["status"] = ans.status if ans.mode != "drop" else None
        entry["error"] = ans.error
        entry["rows"] = None
        sim.log_request(entry)
        ApiHandler._send(self, ans)

    def token(self, sim, method, url, params, entry):
        def fail(status, error, text):
            return Answer(status, {"error": error,
                                   "error_description": text},
                          error=error)

        if url.path != IMDS_PATH:
            return fail(404, "not_found", "No such path.")
        if method != "GET":
            return fail(405, "method_not_allowed",
                        "The request method is not allowed.")
        # Lower-case "true" only: the SSRF mitigation (API-FACTS 1.6).
        if self.headers.get("Metadata") != "true" or \
                self.headers.get("X-Forwarded-For") is not None:
            return fail(400, "bad_request_102",
                        "Required metadata header not specified")
        pre = ApiHandler._apply_pre_fault(self, sim, "imds", entry)
        if pre is not None:
            return pre
        if params.get("api-version") is None:
            return fail(400, "invalid_request",
                        "Required query variable 'api-version' is missing")
        if params["api-version"] < "2018-02-01":
            return fail(400, "invalid_request",
                        "Invalid api-version '%s'" % params["api-version"])
        resource = params.get("resource")
        if not resource:
            return fail(400, "invalid_request",
                        "Required query variable 'resource' is missing")
        aud = resource.rstrip("/")
        if aud not in AUDIENCES.values() or resource.endswith("/.default"):
            return fail(400, "invalid_resource",
                        "AADSTS500011: The resource principal named %s was "
                        "not found in the tenant named %s."
                        % (resource, sim.tenant_id))
        identity = params.get("client_id")
        with sim.lock:
            user_assigned = sim.settings["imds_client_id"]
            ttl = int(sim.settings["token_ttl"])
        if identity is not None and (user_assigned is None or
                                     identity.lower() !=
                                     user_assigned.lower()):
            return fail(400, "invalid_request", "Identity not found")
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + \
            secrets.token_urlsafe(900) + "." + secrets.token_urlsafe(192)
        now = int(time.time())
        with sim.lock:
            sim.tokens[token] = {"aud": aud,
                                 "client_id": identity or "system-assigned",
                                 "exp": now_ticks() + ttl * TICKS_PER_SEC}
        entry["audience"] = aud
        # Every value a string, numbers too.
        payload = {"access_token": token, "refresh_token": "",
                   "expires_in": str(ttl), "expires_on": str(now + ttl),
                   "not_before": str(now), "resource": resource,
                   "token_type": "Bearer"}
        ans = Answer(200, payload)
        return ApiHandler._apply_data_fault(self, sim, "imds", entry, ans,
                                            payload)


class ImdsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, sim):
        self.sim = sim
        super().__init__(addr, handler)


# --------------------------------------------------------------------------
# The control API (plain HTTP, loopback).  A fault with "until" (a Unix
# time) is an outage: it answers every matching request until then, its
# count ignored.  POST /clear-faults drops every queued fault.

class ControlHandler(http.server.BaseHTTPRequestHandler):
    def version_string(self):
        return "simtenant-control/1"

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, obj):
        data = _json_bytes(obj)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return {}
        return json.loads(self.rfile.read(length).decode("utf-8"))

    def do_GET(self):
        sim = self.server.sim
        url = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(url.query)
        with sim.lock:
            if url.path == "/requests":
                since = int(params.get("since", ["0"])[0])
                kind = params.get("kind", [None])[0]
                out = [dict(r) for r in sim.requests if r["seq"] > since and
                       (kind is None or r.get("kind") == kind)]
                return self._reply(200, out)
            if url.path == "/stats":
                st = json.loads(json.dumps(sim.stats))
                st["records"] = {t: len(r) for t, r in sim.tables.items()}
                st["pending_faults"] = sum(f["count"] for f in sim.faults)
                st["tokens_live"] = sum(1 for t in sim.tokens.values()
                                        if t["exp"] > now_ticks())
                return self._reply(200, st)
            if url.path == "/settings":
                return self._reply(200, sim.settings)
            if url.path == "/faults":
                return self._reply(200, sim.faults)
            if url.path == "/posture":
                return self._reply(200, sim.posture.dump())
            if url.path == "/records":
                table = params.get("table", [None])[0]
                out = []
                for name, rows in sim.tables.items():
                    if table and name != table:
                        continue
                    schema = dict(sim.schemas[name])
                    for r in rows:
                        rec = {c: render_cell(schema.get(c), v,
                                              {"dynamic_as": "nested",
                                               "scalars_as": "native"})
                               for c, v in r.items() if not c.startswith("$")}
                        rec["$table"] = name
                        rec["$ingestion_time"] = format_ticks(r["$ingest"])
                        out.append(rec)
                return self._reply(200, out)
        self._reply(404, {"error": "no such control path"})

    def do_POST(self):
        sim = self.server.sim
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._body()
            if path == "/records":
                return self._reply(200, sim.add_records(body))
            if path == "/faults":
                specs = body if isinstance(body, list) else [body]
                added = [sim.add_fault(s) for s in specs]
                return self._reply(200, {"added": added})
            if path == "/settings":
                return self._reply(200, self._settings(sim, body))
            if path == "/posture":
                with sim.lock:
                    return self._reply(200, sim.posture.load(body))
            if path == "/reset":
                with sim.lock:
                    sim.reset_locked(keep_tokens=not (
                        isinstance(body, dict) and body.get("tokens")))
                return self._reply(200, {"ok": True})
            if path == "/clear-faults":
                with sim.lock:
                    n = len(sim.faults)
                    sim.faults = []
                return self._reply(200, {"cleared": n})
            if path == "/expire-tokens":
                with sim.lock:
                    for t in sim.tokens.values():
                        t["exp"] = min(t["exp"], now_ticks())
                    n = len(sim.tokens)
                return self._reply(200, {"expired": n})
        except (ControlError, simposture.DirectoryError, ValueError,
                TypeError, KeyError) as e:
            return self._reply(400, {"error": str(e)})
        self._reply(404, {"error": "no such control path"})

    def _settings(self, sim, body):
        if not isinstance(body, dict):
            raise ControlError("settings are a JSON object")
        checks = {
            "dynamic_as": lambda v: v in ("string", "nested"),
            "scalars_as": lambda v: v in ("string", "native") or (
                isinstance(v, dict) and all(
                    k in ("bool", "long", "int", "real", "decimal") and
                    x in ("string", "native") for k, x in v.items())),
            "expired_token_status": lambda v: v in (401, 403),
            "secret_expired": lambda v: isinstance(v, bool),
            "token_ttl": lambda v: isinstance(v, int) and v >= 0,
            "empty_workspace_204": lambda v: isinstance(v, bool),
            "imds_client_id": lambda v: v is None or isinstance(v, str),
            "graph_reject_or": lambda v: isinstance(v, bool),
            "graph_page_size": lambda v: v is None or (
                isinstance(v, int) and v >= 1),
            "app_secret_end": lambda v: v is None or isinstance(v, str),
            "app_read_denied": lambda v: isinstance(v, bool),
        }
        for k, v in body.items():
            if k not in checks:
                raise ControlError("unknown setting %r" % k)
            if not checks[k](v):
                raise ControlError("bad value for %s: %r" % (k, v))
        with sim.lock:
            sim.settings.update(body)
            return dict(sim.settings)


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, sim):
        self.sim = sim
        super().__init__(addr, handler)


# --------------------------------------------------------------------------

def write_ready_file(path, info):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(info, f)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1",
                    choices=["127.0.0.1", "::1"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--cert", required=True, help="server certificate PEM")
    ap.add_argument("--key", required=True, help="server private key PEM")
    ap.add_argument("--tenant-id", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret-file")
    ap.add_argument("--client-cert",
                    help="the app's certificate PEM: accept client "
                         "assertions signed with its key")
    ap.add_argument("--imds-port", type=int,
                    help="also serve the managed identity endpoint over "
                         "plain HTTP on this port (0: any)")
    ap.add_argument("--imds-client-id",
                    help="the user-assigned identity IMDS knows")
    ap.add_argument("--workspace-id", required=True)
    ap.add_argument("--token-ttl", type=int, default=3599)
    ap.add_argument("--ready-file")
    args = ap.parse_args(argv)

    sim = Sim(args)
    sim.secret()                        # fail now if the file is unreadable
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)

    if args.host == "::1":
        TlsServer.address_family = socket.AF_INET6
        ControlServer.address_family = socket.AF_INET6
    api = TlsServer((args.host, args.port), ApiHandler, sim, ctx)
    control = ControlServer((args.host, args.control_port), ControlHandler,
                            sim)
    servers = [api, control]
    imds = None
    if args.imds_port is not None:
        if args.host == "::1":
            ImdsServer.address_family = socket.AF_INET6
        imds = ImdsServer((args.host, args.imds_port), ImdsHandler, sim)
        servers.append(imds)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever,
                                kwargs={"poll_interval": 0.2}, daemon=True)
               for s in servers]
    for t in threads:
        t.start()
    info = {"port": api.server_address[1],
            "control_port": control.server_address[1], "pid": os.getpid()}
    if imds is not None:
        info["imds_port"] = imds.server_address[1]
    print("simtenant: listening on https://%s:%d (control http://%s:%d)"
          % (args.host, info["port"], args.host, info["control_port"]),
          file=sys.stderr, flush=True)
    if args.ready_file:
        write_ready_file(args.ready_file, info)
    while not stop.wait(0.5):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    shutil.rmtree(sim.workdir, ignore_errors=True)
    if args.ready_file:
        try:
            os.unlink(args.ready_file)
        except OSError:
            pass
    print("simtenant: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
