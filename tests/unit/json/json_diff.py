#!/usr/bin/python3
"""Differential test of the JSON field extractor against Python's json module.

Usage: json_diff.py PATH_TO_json_probe [COUNT]

Generates random JSONL lines with a fixed seed (valid objects with random
nesting, strings with every escape, raw UTF-8 of 1-4 bytes, \\u escapes with
surrogate pairs and lone surrogates, numbers of every shape, and many kinds of
broken lines), feeds them to json_probe and checks, line by line:
  - where Python (json.loads(line.decode('utf-8')), a dict) succeeds and the
    text field is a str that encodes to UTF-8, the probe returns exactly those
    bytes, and the same kind for the other fields;
  - where Python fails (or the value is not a dict, or the text field holds a
    lone surrogate), the probe fails too.

Deliberate differences, generated on purpose and checked the other way round:
  - NaN, Infinity and -Infinity: Python accepts them, RFC 8259 (and we) do not;
  - nesting deeper than JSON_MAX_DEPTH (64): Python accepts up to its recursion
    limit, we stop with too_deep.
Prints a summary line; exits 1 on any disagreement, printing the first few.
"""
import json
import random
import subprocess
import sys

MAX_DEPTH = 64  # JSON_MAX_DEPTH in src/lib/json.h
PATHS = ["text", "id", "meta.lang", "meta.tags"]

SIMPLE_ESCAPES = ['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t']
ASCII_SAFE = [chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\']
WS = ['', '', '', ' ', '  ', '\t', '\r', ' \t ']


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def ws(self):
        return self.r.choice(WS)

    def codepoint(self):
        r = self.r
        k = r.random()
        if k < 0.3:
            return r.randint(0x80, 0x7FF)
        if k < 0.7:
            while True:
                c = r.randint(0x800, 0xFFFF)
                if not 0xD800 <= c <= 0xDFFF:
                    return c
        if k < 0.8:
            return r.choice([0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF,
                             0x2019, 0x2014, 0xFEFF, 0x00A0, 0x2028, 0x2029])
        return r.randint(0x10000, 0x10FFFF)

    def u_escape(self, c):
        s = '%04x' % c
        if self.r.random() < 0.5:
            s = s.upper()
        return '\\u' + s

    def string_body(self, allow_lone=True, short=False):
        """Returns (json text of the body, whether it holds a lone surrogate)."""
        r = self.r
        parts = []
        lone = False
        n = r.choice([0, 1, 2, 3] if short else [0, 1, 2, 5, 10, 30, 100, 300])
        for _ in range(n):
            k = r.random()
            if k < 0.45:
                parts.append(''.join(r.choice(ASCII_SAFE) for _ in range(r.randint(1, 12))))
            elif k < 0.55:
                parts.append(r.choice(SIMPLE_ESCAPES))
            elif k < 0.7:
                parts.append(chr(self.codepoint()))
            elif k < 0.8:
                c = r.choice([r.randint(0, 0x1F), r.randint(0, 0x7F), self.codepoint()])
                if c > 0xFFFF:
                    c -= 0x10000
                    parts.append(self.u_escape(0xD800 + (c >> 10)) + self.u_escape(0xDC00 + (c & 0x3FF)))
                else:
                    if 0xD800 <= c <= 0xDFFF:
                        c = 0x41
                    parts.append(self.u_escape(c))
            elif k < 0.85:
                # a surrogate pair
                hi = r.randint(0xD800, 0xDBFF)
                lo = r.randint(0xDC00, 0xDFFF)
                parts.append(self.u_escape(hi) + self.u_escape(lo))
            elif k < 0.855 and allow_lone:
                lone = True
                parts.append(r.choice([
                    self.u_escape(r.randint(0xD800, 0xDBFF)),                     # lone high
                    self.u_escape(r.randint(0xDC00, 0xDFFF)),                     # lone low
                    self.u_escape(r.randint(0xDC00, 0xDFFF)) + self.u_escape(r.randint(0xD800, 0xDBFF)),
                    self.u_escape(r.randint(0xDC00, 0xDFFF)) + self.u_escape(r.randint(0xDC00, 0xDFFF)),
                    self.u_escape(r.randint(0xD800, 0xDBFF)) + self.u_escape(r.randint(0xD800, 0xDBFF)),
                    self.u_escape(r.randint(0xD800, 0xDBFF)) + 'x',
                    self.u_escape(r.randint(0xD800, 0xDBFF)) + '\\n',
                    self.u_escape(r.randint(0xD800, 0xDBFF)) + self.u_escape(0x41),
                ]))
            elif k < 0.88:
                parts.append('\x7f')
            else:
                parts.append(' ')
        return ''.join(parts), lone

    def number(self):
        r = self.r
        s = r.choice(['', '', '-'])
        s += r.choice(['0', str(r.randint(1, 9)), str(r.randint(1, 10**6)), str(r.randint(1, 10**30))])
        if r.random() < 0.3:
            s += '.' + str(r.randint(0, 10**r.randint(1, 8))).zfill(r.randint(1, 3))
        if r.random() < 0.3:
            s += r.choice('eE') + r.choice(['', '+', '-']) + str(r.randint(0, 400))
        return s

    def key(self):
        r = self.r
        k = r.random()
        if k < 0.3:
            return '"%s"' % r.choice(['id', 'text', 'meta', 'lang', 'tags', 'url', 'x'])
        if k < 0.35:
            return r.choice(['"te\\u0078t"', '"\\u0074ext"', '"i\\u0064"', '"met\\u0061"', '"te\\/xt"',
                             '"text\\u0000"', '"Text"', '"text "'])
        return '"%s"' % self.string_body(allow_lone=r.random() < 0.3, short=True)[0]

    def value(self, depth, budget):
        """A JSON value as text; depth is the nesting of the value itself."""
        r = self.r
        k = r.random()
        if depth < MAX_DEPTH and budget[0] > 0 and k < 0.25:
            budget[0] -= 1
            if r.random() < 0.5:
                return self.obj(depth, budget)
            items = [self.value(depth + 1, budget) for _ in range(r.randint(0, 4))]
            return '[' + self.ws() + (self.ws() + ',' + self.ws()).join(items) + self.ws() + ']'
        if k < 0.55:
            return '"' + self.string_body()[0] + '"'
        if k < 0.85:
            return self.number()
        return r.choice(['true', 'false', 'null'])

    def obj(self, depth, budget, top=False):
        r = self.r
        members = []
        n = r.randint(0, 6)
        for _ in range(n):
            members.append(self.key() + self.ws() + ':' + self.ws() + self.value(depth + 1, budget))
        if top:
            # the fields the probe asks for, in random places, sometimes twice
            want = []
            if r.random() < 0.9:
                want.append('"text"' + self.ws() + ':' + self.ws() +
                            ('"' + self.string_body()[0] + '"' if r.random() < 0.85 else self.value(2, budget)))
            if r.random() < 0.8:
                want.append('"id"' + self.ws() + ':' + self.ws() +
                            r.choice([self.number(), '"' + self.string_body(short=True)[0] + '"', 'null']))
            if r.random() < 0.5:
                want.append('"meta":{"lang":"en","tags":[1,"a",{"b":null}]}')
            if r.random() < 0.1 and want:
                want.append(r.choice(want))  # duplicate key: last wins
            for w in want:
                members.insert(r.randint(0, len(members)), w)
        return '{' + self.ws() + (self.ws() + ',' + self.ws()).join(members) + self.ws() + '}'

    def nested(self, depth):
        """An object whose deepest container is at `depth`, text after it."""
        r = self.r
        inner = 'null'
        for _ in range(depth - 1):
            if r.random() < 0.5:
                inner = '[' + inner + ']'
            else:
                inner = '{"k":' + inner + '}'
        return '{"deep":' + inner + ',"text":"after the deep part"}'

    def valid_line(self):
        r = self.r
        if r.random() < 0.02:
            return self.nested(r.randint(MAX_DEPTH - 3, MAX_DEPTH))
        line = self.ws() + self.obj(1, [r.randint(0, 12)], top=True) + self.ws()
        return line


BAD_UTF8 = [b'\x80', b'\xbf', b'\xc0\xaf', b'\xc1\xbf', b'\xe0\x80\xaf', b'\xe0\x9f\xbf', b'\xed\xa0\x80',
            b'\xed\xbf\xbf', b'\xf0\x80\x80\xaf', b'\xf0\x8f\xbf\xbf', b'\xf4\x90\x80\x80', b'\xf5\x80\x80\x80',
            b'\xf8\x88\x80\x80\x80', b'\xfe', b'\xff', b'\xc3', b'\xe2\x82', b'\xf0\x9f\x98', b'\xc3\xc3',
            b'\xe2\x28\xa1']
BAD_ESCAPES = [b'\\x41', b'\\a', b'\\U0041', b'\\u12G4', b'\\u004', b'\\u', b'\\\'', b'\\0', b'\\ ', b'\\\xc3\xa9']
GARBAGE = [b'x', b'{}', b',', b']', b'}', b'"', b'0', b'\x00', b'\x0c', b'\xc2\xa0', b'//c', b'\x1a']
NON_OBJECTS = [b'[]', b'[1,2]', b'"text"', b'0', b'-1.5e3', b'true', b'false', b'null', b'[{"text":"a"}]']
NUMBERS_BAD = [b'01', b'-01', b'00', b'1.', b'.5', b'-', b'+1', b'1e', b'1e+', b'1.e5', b'0x10', b'1_000',
               b'--1', b'1.2.3', b'- 1', b'01.5', b'\xd9\xa1']
CONSTANTS = [b'NaN', b'Infinity', b'-Infinity']


def mutate(g, line):
    """A broken variant of a valid line (the result may still be valid)."""
    r = g.r
    b = line
    k = r.randint(0, 12)
    quotes = [i for i, c in enumerate(b) if c == 0x22]
    if k == 0 and len(b) > 1:                                   # truncation
        return b[:r.randint(0, len(b) - 1)]
    if k == 1 and quotes:                                       # bad escape in a string
        i = r.choice(quotes) + 1
        return b[:i] + r.choice(BAD_ESCAPES) + b[i:]
    if k == 2:                                                  # invalid UTF-8 anywhere
        i = r.choice(quotes) + 1 if quotes and r.random() < 0.8 else r.randint(0, len(b))
        return b[:i] + r.choice(BAD_UTF8) + b[i:]
    if k == 3:                                                  # raw control character
        c = r.choice([c for c in range(0x20) if c != 0x0A])
        i = r.choice(quotes) + 1 if quotes and r.random() < 0.8 else r.randint(0, len(b))
        return b[:i] + bytes([c]) + b[i:]
    if k == 4:                                                  # trailing garbage
        return b + r.choice([b'', b' ', b'\t']) + r.choice(GARBAGE)
    if k == 5:                                                  # not an object
        return r.choice([b'', b' ']) + r.choice(NON_OBJECTS) + r.choice([b'', b' ', b'\r'])
    if k == 6:                                                  # bad numbers
        return b'{"id":' + r.choice(NUMBERS_BAD) + b',"text":"t"}'
    if k == 7 and len(b) > 0:                                   # random byte flip (never a newline)
        i = r.randrange(len(b))
        c = r.choice([x for x in range(256) if x != 0x0A])
        return b[:i] + bytes([c]) + b[i + 1:]
    if k == 8 and len(b) > 0:                                   # drop one byte
        i = r.randrange(len(b))
        return b[:i] + b[i + 1:]
    if k == 9:                                                  # empty or white space only
        return r.choice([b'', b' ', b'\t\r', b'\xef\xbb\xbf{}', b'\xef\xbb\xbf'])
    if k == 10 and len(b) > 0:                                  # insert a structural byte
        i = r.randrange(len(b))
        return b[:i] + r.choice([b',', b':', b'{', b'}', b'[', b']', b'"', b'\\']) + b[i:]
    if k == 11:                                                 # unquoted or single-quoted keys
        return r.choice([b'{text:"a"}', b"{'text':'a'}", b'{"text":\'a\'}', b'{"a" "b"}', b'{"a":1,}',
                         b'{,"a":1}', b'{"a":[1,]}', b'{"a"::1}', b'{"a":tru}', b'{"a":True}', b'{"a":nul}'])
    # duplicate an arbitrary slice
    i = r.randint(0, len(b))
    j = r.randint(i, min(len(b), i + 10))
    return b[:i] + b[i:j] + b[i:]


class Constant(Exception):
    pass


def reject_constant(name):
    raise Constant(name)


def depth_of(v):
    """Nesting of containers, without recursion."""
    best = 0
    stack = [(v, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, dict):
            best = max(best, d)
            stack.extend((y, d + 1) for y in x.values())
        elif isinstance(x, list):
            best = max(best, d)
            stack.extend((y, d + 1) for y in x)
    return best


def walk(v, path):
    for seg in path.split('.'):
        if isinstance(v, dict) and seg in v:
            v = v[seg]
        else:
            return None, False
    return v, True


def kind(v, present):
    if not present:
        return 'missing'
    if isinstance(v, str):
        return 'string'
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
        return 'other'
    return 'number'


def oracle(line):
    """@return (expected probe line or None for 'must fail', note)."""
    try:
        s = line.decode('utf-8')
    except UnicodeDecodeError:
        return None, 'utf8'
    try:
        v = json.loads(s, parse_constant=reject_constant)
    except Constant:
        # Deliberate difference: Python accepts NaN/Infinity, we must not.
        return None, 'constant'
    except (ValueError, RecursionError):
        return None, 'python'
    if not isinstance(v, dict):
        return None, 'not_object'
    if depth_of(v) > MAX_DEPTH:
        return None, 'too_deep'  # deliberate difference: a limit
    t, present = walk(v, PATHS[0])
    if present and isinstance(t, str):
        try:
            first = 's:' + t.encode('utf-8').hex()
        except UnicodeEncodeError:
            return None, 'surrogate'
    else:
        first = kind(t, present)
    rest = [kind(*walk(v, p)) for p in PATHS[1:]]
    return 'ok ' + ' '.join([first] + rest), 'ok'


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    probe = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
    g = Gen(20240531)
    lines = []
    for i in range(count):
        valid = g.valid_line().encode('utf-8')
        k = g.r.random()
        if k < 0.4:
            lines.append(valid)
        elif k < 0.42:
            lines.append(g.nested(g.r.randint(MAX_DEPTH + 1, MAX_DEPTH + 5)).encode())
        elif k < 0.44:
            lines.append(b'{"text":"t","n":' + g.r.choice(CONSTANTS) + b'}')
        else:
            lines.append(mutate(g, valid))
    # Known edge lines, always included.
    lines += [b'{"text":"\\ud83d\\ude00"}', b'{"text":"\\ude00\\ud83d"}', b'{"text":"a","text":"\\ud800"}',
              b'{"text":"\\ud800","text":"b"}', b'{"id":"\\ud800","text":"ok"}', b'{"text":"x"}\r',
              b'{"te\\u0078t":"esc"}', b'{"text":"\\u0000"}', b'\xef\xbb\xbf{"text":"bom"}',
              b'{"meta":{"lang":1},"meta":2}', b'{"text":1e400}', b'{"text":-0}']
    for line in lines:
        assert b'\n' not in line
    data = b'\n'.join(lines) + b'\n'
    res = subprocess.run([probe] + PATHS, input=data, stdout=subprocess.PIPE, check=True)
    got = res.stdout.decode('ascii').split('\n')
    if got and got[-1] == '':
        got.pop()
    if len(got) != len(lines):
        print('FAIL: %d lines in, %d answers out' % (len(lines), len(got)))
        return 1
    stats = {}
    bad = []
    for line, ans in zip(lines, got):
        want, note = oracle(line)
        stats[note] = stats.get(note, 0) + 1
        if want is None:
            ok = ans.startswith('err ')
            if ok and note == 'surrogate':
                ok = ans == 'err lone_surrogate'
            if ok and note == 'too_deep':
                ok = ans == 'err too_deep'
        else:
            ok = ans == want
        if not ok:
            bad.append((line, want or 'err (%s)' % note, ans))
    summary = ' '.join('%s=%d' % kv for kv in sorted(stats.items()))
    print('json_diff: %d lines, %d disagreements (%s)' % (len(lines), len(bad), summary))
    for line, want, ans in bad[:5]:
        print('  line:   %r' % line[:300])
        print('  python: %s' % want[:200])
        print('  probe:  %s' % ans[:200])
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
