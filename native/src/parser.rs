//! The native backend of the parser contract in `src/protocol/ops.ts`: a port of
//! `src/protocol/js-parser.ts` that must give exactly the same records, offsets and errors for every
//! input (test/protocol/parity.test.ts and `npm run fuzz` compare the two).
//!
//! The TypeScript parser is a byte-wise state machine; this port walks the same states one op at a
//! time, with tight inner loops where a state only waits for a byte (the blanks before an argument,
//! the "\n" ending a line), and on reaching the end of the buffer reports what the state machine
//! reports in the state it would be in there. Every index is checked against `end`; nothing here
//! can read or write out of bounds, whatever the input.

pub const HDR_COUNT: usize = 0;
pub const HDR_CONSUMED: usize = 1;
pub const HDR_NEED: usize = 2;
pub const HDR_SIZE: usize = 4;
pub const OP_STRIDE: usize = 8;

pub const OP_PING: i32 = 1;
pub const OP_PONG: i32 = 2;
pub const OP_CONNECT: i32 = 3;
pub const OP_PUB: i32 = 4;
pub const OP_HPUB: i32 = 5;
pub const OP_SUB: i32 = 6;
pub const OP_UNSUB: i32 = 7;
pub const OP_INFO: i32 = 8;
pub const OP_OK: i32 = 9;
pub const OP_ERR: i32 = 10;
pub const OP_PARSE_ERROR: i32 = 11;

pub const ERR_UNKNOWN_OP: i32 = 1;
pub const ERR_MAX_CONTROL_LINE: i32 = 2;
pub const ERR_MAX_PAYLOAD: i32 = 3;
pub const ERR_BAD_ARGUMENTS: i32 = 4;

const TAB: u8 = b'\t';
const LF: u8 = b'\n';
const CR: u8 = b'\r';
const SPACE: u8 = b' ';
/// `b | CASE_BIT` maps an ASCII letter of either case to lower case (and no other byte onto a letter).
const CASE_BIT: u8 = 0x20;
/// nats-server's parseSize accepts at most 9 digits (999,999,999), so sizes never overflow int32.
const MAX_SIZE_DIGITS: usize = 9;

/// Lower-case op names, matched byte by byte after the first byte (or two, for "P") picked the op.
fn op_name(kind: i32) -> &'static [u8] {
    match kind {
        OP_PING => b"ping",
        OP_PONG => b"pong",
        OP_CONNECT => b"connect",
        OP_PUB => b"pub",
        OP_HPUB => b"hpub",
        OP_SUB => b"sub",
        OP_UNSUB => b"unsub",
        OP_INFO => b"info",
        OP_OK => b"+ok",
        _ => b"-err",
    }
}

/// nats-server's parseSize: 1 to 9 ASCII digits, else -1 (empty, sign, other bytes, too long).
fn parse_size(digits: &[u8]) -> i64 {
    if digits.is_empty() || digits.len() > MAX_SIZE_DIGITS {
        return -1;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return -1;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    n
}

#[inline(always)]
fn is_blank(b: u8) -> bool {
    b == SPACE || b == TAB
}

/// Offsets fit in int32: the caller refuses buffers longer than i32::MAX.
#[inline(always)]
fn at(offset: usize) -> i32 {
    offset as i32
}

/// Whitespace-separated tokens of an argument, as the TypeScript parser splits it: up to four are
/// kept (start, end), `count` counts them all.
struct Tokens {
    count: usize,
    spans: [(usize, usize); 4],
}

impl Tokens {
    #[inline(always)]
    fn close(&mut self, start: usize, end: usize) {
        if self.count < 4 {
            self.spans[self.count] = (start, end);
        }
        self.count += 1;
    }
}

/// The exact split of buf[from, to) for lines scan_line's split does not fit.
fn split_tokens(buf: &[u8], from: usize, to: usize, split_on_line_breaks: bool) -> Tokens {
    let mut tokens = Tokens { count: 0, spans: [(0, 0); 4] };
    let mut token_start = usize::MAX;
    for (j, &c) in buf[from..to].iter().enumerate() {
        let separator = is_blank(c) || (split_on_line_breaks && (c == CR || c == LF));
        if !separator {
            if token_start == usize::MAX {
                token_start = from + j;
            }
        } else if token_start != usize::MAX {
            tokens.close(token_start, from + j);
            token_start = usize::MAX;
        }
    }
    if token_start != usize::MAX {
        tokens.close(token_start, to);
    }
    tokens
}

/// A control line as scan_line sees it.
struct Line {
    /// Offset of the "\n" ending the line; None when the buffer ends first.
    lf: Option<usize>,
    /// Number of "\r" after the argument's first byte, and the offset of the last one.
    crs: usize,
    last_cr: usize,
    /// The argument split on blanks and "\r" (its first byte always counts as a token byte).
    tokens: Tokens,
}

/// True when any of the 8 bytes of `word` is below 0x21: a blank, "\r", "\n" (or a control byte).
#[inline(always)]
fn has_byte_below_0x21(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    (word.wrapping_sub(ONES * 0x21) & !word & (ONES * 0x80)) != 0
}

/// One pass over an argument from its first byte to "\n": finds the line end, counts "\r" and
/// splits tokens, skipping 8 bytes at a time inside a token when none of them can end it.
#[inline(always)]
fn scan_line(buf: &[u8], arg_start: usize) -> Line {
    let end = buf.len();
    let mut line = Line { lf: None, crs: 0, last_cr: 0, tokens: Tokens { count: 0, spans: [(0, 0); 4] } };
    let mut token_start = arg_start;
    let mut in_token = true;
    let mut j = arg_start + 1;
    loop {
        if in_token {
            while j + 8 <= end {
                let word = u64::from_le_bytes([buf[j], buf[j + 1], buf[j + 2], buf[j + 3], buf[j + 4], buf[j + 5], buf[j + 6], buf[j + 7]]);
                if has_byte_below_0x21(word) {
                    break;
                }
                j += 8;
            }
        }
        if j >= end {
            return line;
        }
        let b = buf[j];
        if b == LF {
            break;
        }
        if b == SPACE || b == TAB || b == CR {
            if b == CR {
                line.crs += 1;
                line.last_cr = j;
            }
            if in_token {
                line.tokens.close(token_start, j);
                in_token = false;
            }
        } else if !in_token {
            token_start = j;
            in_token = true;
        }
        j += 1;
    }
    if in_token {
        line.tokens.close(token_start, j);
    }
    line.lf = Some(j);
    line
}

/// What ends a parse call other than running out of buffer at an op boundary.
enum Stop {
    /// Out of buffer inside the op that started at `op_start`; `need` is its total size once known.
    Incomplete { op_start: usize, need: i64 },
    /// A fatal error in the op that started at `op_start`; `kind` is the op when it was recognized.
    Error { code: i32, op_start: usize, kind: i32 },
}

struct Records<'a> {
    ops: &'a mut [i32],
    count: usize,
    capacity: usize,
}

impl Records<'_> {
    /// Appends a record; true when `ops` is now full.
    #[inline(always)]
    fn push(&mut self, record: [i32; OP_STRIDE]) -> bool {
        let offset = HDR_SIZE + self.count * OP_STRIDE;
        self.ops[offset..offset + OP_STRIDE].copy_from_slice(&record);
        self.count += 1;
        self.count == self.capacity
    }
}

/// Parses complete ops in `buf[start, end)` into `ops` (see ops.ts) and returns the record count.
/// `start <= end <= buf.len()` and room for the header and one record are required; the N-API
/// layer checks both, and this function clamps rather than trusting them.
/// The limits are JS numbers and compare as JS compares them (NaN: no limit; fractions and
/// infinities as they are).
pub fn parse(buf: &[u8], start: usize, end: usize, ops: &mut [i32], max_control_line: f64, max_payload: f64) -> i32 {
    if ops.len() < HDR_SIZE + OP_STRIDE {
        return 0;
    }
    let end = end.min(buf.len());
    let start = start.min(end);
    let capacity = (ops.len() - HDR_SIZE) / OP_STRIDE;
    let mut records = Records { ops, count: 0, capacity };
    let outcome = scan(buf, start, end, &mut records, max_control_line, max_payload);
    let count = records.count;
    let ops = records.ops;
    match outcome {
        Ok(consumed) => {
            ops[HDR_CONSUMED] = at(consumed);
            ops[HDR_NEED] = 0;
        }
        Err(Stop::Incomplete { op_start, need }) => {
            ops[HDR_CONSUMED] = at(op_start);
            // Int32Array stores wrap modulo 2^32, as this cast does.
            ops[HDR_NEED] = need as i32;
        }
        Err(Stop::Error { code, op_start, kind }) => {
            // Never past capacity: scan returns as soon as `ops` is full, before any error.
            let offset = HDR_SIZE + count * OP_STRIDE;
            ops[offset..offset + OP_STRIDE].copy_from_slice(&[OP_PARSE_ERROR, code, at(op_start), kind, 0, 0, 0, 0]);
            ops[HDR_CONSUMED] = at(op_start);
            ops[HDR_NEED] = 0;
            ops[HDR_COUNT] = at(count + 1);
            return at(count + 1);
        }
    }
    ops[HDR_COUNT] = at(count);
    at(count)
}

/// Scans ops from `start`; Ok(offset after the last complete op) when the buffer or `ops` ran out at
/// an op boundary.
fn scan(buf: &[u8], start: usize, end: usize, records: &mut Records, max_control_line: f64, max_payload: f64) -> Result<usize, Stop> {
    let buf = &buf[..end];
    let over_line_limit = |length: usize| length as f64 > max_control_line;
    let mut i = start;
    loop {
        if i >= end {
            return Ok(i);
        }
        let op_start = i;
        let incomplete = Err(Stop::Incomplete { op_start, need: -1 });
        let unknown = Err(Stop::Error { code: ERR_UNKNOWN_OP, op_start, kind: 0 });

        // The op name: the first byte (or two, after "P") picks the op, the rest must match.
        let first = buf[i];
        let mut name_pos = 1;
        let kind = match first | CASE_BIT {
            b'p' => {
                i += 1;
                if i >= end {
                    return incomplete;
                }
                name_pos = 2;
                match buf[i] | CASE_BIT {
                    b'u' => OP_PUB,
                    b'i' => OP_PING,
                    b'o' => OP_PONG,
                    _ => return unknown,
                }
            }
            b'h' => OP_HPUB,
            b's' => OP_SUB,
            b'u' => OP_UNSUB,
            b'c' => OP_CONNECT,
            b'i' => OP_INFO,
            _ if first == b'+' => OP_OK,
            _ if first == b'-' => OP_ERR,
            _ => return unknown,
        };
        i += 1;
        let name = op_name(kind);
        while name_pos < name.len() {
            if i >= end {
                return incomplete;
            }
            if buf[i] | CASE_BIT != name[name_pos] {
                return unknown;
            }
            name_pos += 1;
            i += 1;
        }
        let run_start = i;
        let line_error = Err(Stop::Error { code: ERR_MAX_CONTROL_LINE, op_start, kind });

        // PING, PONG, +OK: everything up to "\n" is ignored, as nats-server does ("PING x", "PINGX").
        if kind == OP_PING || kind == OP_PONG || kind == OP_OK {
            let Some(lf) = buf[i..].iter().position(|&b| b == LF).map(|p| i + p) else {
                return if over_line_limit(end - run_start) { line_error } else { incomplete };
            };
            if over_line_limit(lf - run_start) {
                return line_error;
            }
            i = lf + 1;
            if records.push([kind, 0, 0, 0, 0, 0, 0, 0]) {
                return Ok(i);
            }
            continue;
        }

        // PUB, HPUB, SUB, UNSUB, -ERR need a blank after the name; CONNECT and INFO do not.
        if kind != OP_CONNECT && kind != OP_INFO {
            if i >= end {
                return incomplete;
            }
            if !is_blank(buf[i]) {
                return unknown;
            }
            i += 1;
        }
        while i < end && is_blank(buf[i]) {
            i += 1;
        }
        if i >= end {
            return if over_line_limit(end - run_start) { line_error } else { incomplete };
        }
        if over_line_limit(i - run_start) {
            return line_error;
        }
        // Like nats-server, the argument's first byte is not looked at: "SUB \r\n" has the argument "\r".
        let arg_start = i;
        let line = scan_line(buf, arg_start);
        // nats-server's `drop`: any "\r" in the argument makes the line end one byte before "\n".
        let drop = usize::from(line.crs > 0);
        let Some(lf) = line.lf else {
            return if over_line_limit(end - arg_start - drop) { line_error } else { incomplete };
        };
        let line_end = lf - drop;
        if over_line_limit(line_end - arg_start) {
            return line_error;
        }
        i = lf + 1;
        let bad_arguments = Err(Stop::Error { code: ERR_BAD_ARGUMENTS, op_start, kind });

        if kind == OP_CONNECT || kind == OP_INFO || kind == OP_ERR {
            if records.push([kind, at(arg_start), at(line_end - arg_start), 0, 0, 0, 0, 0]) {
                return Ok(i);
            }
            continue;
        }

        // Split like nats-server: PUB/HPUB on blanks only, SUB/UNSUB also on "\r" and "\n". The
        // tokens scan_line found (split on blanks and "\r") are the same unless a "\r" or "\n" sits
        // anywhere but at the line end, where "\r\n" puts it.
        let first = buf[arg_start];
        let usual_line = first != CR && first != LF && (line.crs == 0 || (line.crs == 1 && line.last_cr == lf - 1));
        let tokens = if usual_line { line.tokens } else { split_tokens(buf, arg_start, line_end, kind == OP_SUB || kind == OP_UNSUB) };
        let [(s0, e0), (s1, e1), (s2, e2), (s3, e3)] = tokens.spans;
        match kind {
            OP_SUB => {
                // SUB <subject> [queue] <sid>
                let record = match tokens.count {
                    2 => [OP_SUB, at(s0), at(e0 - s0), 0, 0, at(s1), at(e1 - s1), 0],
                    3 => [OP_SUB, at(s0), at(e0 - s0), at(s1), at(e1 - s1), at(s2), at(e2 - s2), 0],
                    _ => return bad_arguments,
                };
                if records.push(record) {
                    return Ok(i);
                }
            }
            OP_UNSUB => {
                // UNSUB <sid> [max]; an unparsable max counts as absent, as in nats-server.
                let max = match tokens.count {
                    1 => -1,
                    2 => parse_size(&buf[s1..e1]) as i32,
                    _ => return bad_arguments,
                };
                if records.push([OP_UNSUB, 0, 0, 0, 0, at(s0), at(e0 - s0), max]) {
                    return Ok(i);
                }
            }
            _ => {
                // PUB <subject> [reply] <size> | HPUB <subject> [reply] <header size> <total size>
                let (with_reply, header_size, size) = if kind == OP_PUB {
                    match tokens.count {
                        2 => (false, -1, parse_size(&buf[s1..e1])),
                        3 => (true, -1, parse_size(&buf[s2..e2])),
                        _ => return bad_arguments,
                    }
                } else {
                    let (with_reply, header_size, size) = match tokens.count {
                        3 => (false, parse_size(&buf[s1..e1]), parse_size(&buf[s2..e2])),
                        4 => (true, parse_size(&buf[s2..e2]), parse_size(&buf[s3..e3])),
                        _ => return bad_arguments,
                    };
                    if header_size < 0 || (size >= 0 && header_size > size) {
                        return bad_arguments;
                    }
                    (with_reply, header_size, size)
                };
                if size < 0 {
                    return bad_arguments;
                }
                // Checked before any payload byte is read, like nats-server.
                if size as f64 > max_payload {
                    return Err(Stop::Error { code: ERR_MAX_PAYLOAD, op_start, kind });
                }
                let payload_start = i;
                // size <= 999,999,999 and offsets < 2^31: no overflow on 64-bit usize.
                let trailer = payload_start + size as usize;
                if trailer + 1 >= end {
                    // Incomplete, but a wrong first trailer byte already fails, as it does in nats-server.
                    if trailer < end && buf[trailer] != CR {
                        return Err(Stop::Error { code: ERR_UNKNOWN_OP, op_start, kind });
                    }
                    return Err(Stop::Incomplete { op_start, need: (trailer + 2 - op_start) as i64 });
                }
                if buf[trailer] != CR || buf[trailer + 1] != LF {
                    return Err(Stop::Error { code: ERR_UNKNOWN_OP, op_start, kind });
                }
                let (reply_start, reply_len) = if with_reply { (at(s1), at(e1 - s1)) } else { (0, 0) };
                let record = [kind, at(s0), at(e0 - s0), reply_start, reply_len, at(payload_start), size as i32, header_size as i32];
                i = trailer + 2;
                if records.push(record) {
                    return Ok(i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], capacity: usize, max_control_line: f64, max_payload: f64) -> Vec<i32> {
        let mut ops = vec![0x5a5a; HDR_SIZE + capacity * OP_STRIDE];
        let count = parse(input, 0, input.len(), &mut ops, max_control_line, max_payload) as usize;
        ops.truncate(HDR_SIZE + count * OP_STRIDE);
        ops
    }

    #[test]
    fn parses_pub_with_reply_and_payload() {
        let ops = run(b"PUB foo bar 5\r\nhello\r\nPING\r\n", 8, 4096.0, 1024.0);
        assert_eq!(&ops[..3], &[2, 28, 0]);
        assert_eq!(&ops[4..12], &[OP_PUB, 4, 3, 8, 3, 15, 5, -1]);
        assert_eq!(ops[12], OP_PING);
    }

    #[test]
    fn reports_incomplete_payload_with_needed_size() {
        let ops = run(b"SUB a 1\r\nPUB foo 10\r\nhel", 8, 4096.0, 1024.0);
        assert_eq!(&ops[..3], &[1, 9, 12 + 10 + 2]);
    }

    #[test]
    fn stops_when_ops_is_full() {
        let ops = run(b"PING\r\nPONG\r\nPING\r\n", 2, 4096.0, 1024.0);
        assert_eq!(&ops[..3], &[2, 12, 0]);
    }

    #[test]
    fn reports_errors_as_the_last_record() {
        let ops = run(b"PING\r\nPUB foo 2000\r\n", 8, 4096.0, 1024.0);
        assert_eq!(&ops[..3], &[2, 6, 0]);
        assert_eq!(&ops[12..16], &[OP_PARSE_ERROR, ERR_MAX_PAYLOAD, 6, OP_PUB]);
    }

    /// Random inputs never panic and always leave a consistent header.
    #[test]
    fn random_inputs_keep_the_invariants() {
        let alphabet = b" \t\r\n0123456789PUBSHINGCOKTRFpubshingcoktrf+-.*>";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200_000 {
            let length = (next() % 80) as usize;
            let input: Vec<u8> = (0..length)
                .map(|_| if next() % 4 == 0 { next() as u8 } else { alphabet[(next() % alphabet.len() as u64) as usize] })
                .collect();
            let start = if length == 0 { 0 } else { (next() as usize) % length };
            let capacity = 1 + (next() % 4) as usize;
            let mut ops = vec![0; HDR_SIZE + capacity * OP_STRIDE];
            let max_control_line = (next() % 40) as f64;
            let max_payload = (next() % 30) as f64 - 2.5;
            let count = parse(&input, start, length, &mut ops, max_control_line, max_payload);
            assert!(count >= 0 && count as usize <= capacity);
            assert_eq!(ops[HDR_COUNT], count);
            assert!(ops[HDR_CONSUMED] as usize >= start && ops[HDR_CONSUMED] as usize <= length);
        }
    }
}
