//! Natrium's native addon: the protocol parser (a port of `src/protocol/js-parser.ts`, same contract:
//! `src/protocol/ops.ts`), the main thread's accept loop and the fd helpers used to hand accepted
//! sockets to worker threads.
//!
//! Node-API registers the module once per environment (main thread and every worker), so nothing
//! here keeps global state: each call works only on the memory its arguments point to.

#[cfg(unix)]
mod accept;
#[cfg(target_os = "linux")]
mod connection;
#[cfg(unix)]
mod uv;
mod napi;
pub mod parser;

use napi::{CallbackInfo, Env, Value};
use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;

pub(crate) enum ErrorKind {
    Plain,
    Type,
    Range,
}

/// Throws a JS error; the callback then returns null, which Node turns into `undefined`.
pub(crate) unsafe fn throw(env: Env, kind: ErrorKind, code: &str, message: &str) -> Value {
    let code = CString::new(code.replace('\0', "")).unwrap_or_default();
    let message = CString::new(message.replace('\0', "")).unwrap_or_default();
    let code_ptr = if code.as_bytes().is_empty() { ptr::null() } else { code.as_ptr() };
    match kind {
        ErrorKind::Plain => napi::napi_throw_error(env, code_ptr, message.as_ptr()),
        ErrorKind::Type => napi::napi_throw_type_error(env, code_ptr, message.as_ptr()),
        ErrorKind::Range => napi::napi_throw_range_error(env, code_ptr, message.as_ptr()),
    };
    ptr::null_mut()
}

/// The call's first N arguments, or None when fewer were passed.
pub(crate) unsafe fn arguments<const N: usize>(env: Env, info: CallbackInfo) -> Option<[Value; N]> {
    let mut argc = N;
    let mut argv: [Value; N] = [ptr::null_mut(); N];
    let status = napi::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut());
    (status == napi::STATUS_OK && argc >= N).then_some(argv)
}

pub(crate) unsafe fn int32(env: Env, value: Value) -> Option<i32> {
    let mut result = 0;
    (napi::napi_get_value_int32(env, value, &mut result) == napi::STATUS_OK).then_some(result)
}

/// Limits are compared as the TypeScript parser compares them: as JS numbers.
unsafe fn double(env: Env, value: Value) -> Option<f64> {
    let mut result = 0.0;
    (napi::napi_get_value_double(env, value, &mut result) == napi::STATUS_OK).then_some(result)
}

/// Data pointer and element count of a typed array of the given `napi_typedarray_type`.
pub(crate) unsafe fn typed_array(env: Env, value: Value, expected_kind: i32) -> Option<(*mut c_void, usize)> {
    let mut kind = -1;
    let mut length = 0usize;
    let mut data: *mut c_void = ptr::null_mut();
    let status = napi::napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, ptr::null_mut(), ptr::null_mut());
    (status == napi::STATUS_OK && kind == expected_kind).then_some((data, length))
}

pub(crate) unsafe fn int32_value(env: Env, value: i32) -> Value {
    let mut result: Value = ptr::null_mut();
    napi::napi_create_int32(env, value, &mut result);
    result
}

pub(crate) unsafe fn double_value(env: Env, value: f64) -> Value {
    let mut result: Value = ptr::null_mut();
    napi::napi_create_double(env, value, &mut result);
    result
}

pub(crate) unsafe fn undefined(env: Env) -> Value {
    let mut result: Value = ptr::null_mut();
    napi::napi_get_undefined(env, &mut result);
    result
}

const PARSE_USAGE: &str = "parse(buf: Uint8Array, start: number, end: number, ops: Int32Array, maxControlLine: number, maxPayload: number)";

/// `parse(buf, start, end, ops, maxControlLine, maxPayload) -> count`; see `src/protocol/ops.ts`.
unsafe extern "C" fn js_parse(env: Env, info: CallbackInfo) -> Value {
    let Some([buf_arg, start_arg, end_arg, ops_arg, max_line_arg, max_payload_arg]) = arguments::<6>(env, info) else {
        return throw(env, ErrorKind::Type, "ERR_INVALID_ARG_COUNT", &format!("{PARSE_USAGE}: 6 arguments expected"));
    };
    let Some((buf_data, buf_len)) = typed_array(env, buf_arg, napi::UINT8_ARRAY) else {
        return throw(env, ErrorKind::Type, "ERR_INVALID_ARG_TYPE", "parse: buf must be a Uint8Array");
    };
    let Some((ops_data, ops_len)) = typed_array(env, ops_arg, napi::INT32_ARRAY) else {
        return throw(env, ErrorKind::Type, "ERR_INVALID_ARG_TYPE", "parse: ops must be an Int32Array");
    };
    let (Some(start), Some(end), Some(max_control_line), Some(max_payload)) =
        (int32(env, start_arg), int32(env, end_arg), double(env, max_line_arg), double(env, max_payload_arg))
    else {
        return throw(env, ErrorKind::Type, "ERR_INVALID_ARG_TYPE", "parse: start, end, maxControlLine and maxPayload must be numbers");
    };
    // Offsets travel back to JS as int32, so a buffer they cannot all index is refused.
    if buf_len > i32::MAX as usize {
        return throw(env, ErrorKind::Range, "ERR_OUT_OF_RANGE", "parse: buf is longer than 2^31-1 bytes");
    }
    if start < 0 || end < start || end as usize > buf_len {
        return throw(
            env,
            ErrorKind::Range,
            "ERR_OUT_OF_RANGE",
            &format!("parse: need 0 <= start <= end <= buf.length, got start {start}, end {end}, length {buf_len}"),
        );
    }
    if ops_len < parser::HDR_SIZE + parser::OP_STRIDE {
        return throw(env, ErrorKind::Range, "ERR_OUT_OF_RANGE", "parse: ops must hold the header and at least one record");
    }
    // The byte slice and the mutable op slice must not alias (e.g. views of one ArrayBuffer).
    let buf_start = buf_data as usize;
    let ops_start = ops_data as usize;
    if buf_len > 0 && buf_start < ops_start + ops_len * 4 && ops_start < buf_start + buf_len {
        return throw(env, ErrorKind::Range, "ERR_INVALID_ARG_VALUE", "parse: buf and ops overlap");
    }
    if !ops_start.is_multiple_of(std::mem::align_of::<i32>()) {
        return throw(env, ErrorKind::Range, "ERR_INVALID_ARG_VALUE", "parse: ops is not 4-byte aligned");
    }
    // A zero-length view may have a null data pointer, which a slice must never hold.
    let buf: &[u8] = if buf_len == 0 { &[] } else { std::slice::from_raw_parts(buf_data as *const u8, buf_len) };
    let ops: &mut [i32] = std::slice::from_raw_parts_mut(ops_data as *mut i32, ops_len);
    let count = parser::parse(buf, start as usize, end as usize, ops, max_control_line, max_payload);
    int32_value(env, count)
}

#[cfg(unix)]
pub(crate) mod fd {
    use std::ffi::c_int;

    extern "C" {
        fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
        fn dup(fd: c_int) -> c_int;
        fn close(fd: c_int) -> c_int;
    }

    /// fcntl's F_DUPFD_CLOEXEC where its value is known; elsewhere a plain dup.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const F_DUPFD_CLOEXEC: Option<c_int> = Some(1030);
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    const F_DUPFD_CLOEXEC: Option<c_int> = Some(67);
    #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
    const F_DUPFD_CLOEXEC: Option<c_int> = Some(17);
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    )))]
    const F_DUPFD_CLOEXEC: Option<c_int> = None;

    /// Like dup(2), but the copy is close-on-exec so child processes never inherit a client socket.
    pub fn duplicate(fd: c_int) -> std::io::Result<c_int> {
        let copy = match F_DUPFD_CLOEXEC {
            Some(command) => unsafe { fcntl(fd, command, 0 as c_int) },
            None => unsafe { dup(fd) },
        };
        if copy < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(copy)
        }
    }

    pub fn release(fd: c_int) -> std::io::Result<()> {
        if unsafe { close(fd) } == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        // After EINTR Linux has already released the descriptor; retrying could close a reused one.
        if error.kind() == std::io::ErrorKind::Interrupted {
            Ok(())
        } else {
            Err(error)
        }
    }
}

#[cfg(not(unix))]
pub(crate) mod fd {
    use std::ffi::c_int;

    pub fn duplicate(_fd: c_int) -> std::io::Result<c_int> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "dup is only available on Unix"))
    }

    pub fn release(_fd: c_int) -> std::io::Result<()> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "close is only available on Unix"))
    }
}

/// glibc keeps memory freed by any thread in its arenas; malloc_trim hands the unused pages back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_memory() -> bool {
    extern "C" {
        fn malloc_trim(pad: usize) -> c_int;
    }
    unsafe { malloc_trim(0) == 1 }
}

/// Other C libraries return freed memory on their own, or offer no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_memory() -> bool {
    false
}

/// `trimMemory() -> 1 | 0`: 1 when the allocator gave memory back to the system.
unsafe extern "C" fn js_trim_memory(env: Env, _info: CallbackInfo) -> Value {
    int32_value(env, trim_memory() as i32)
}

/// Node's code for an errno, e.g. "EBADF", so JS callers can branch on `error.code`.
fn errno_code(error: &std::io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(9) => "EBADF",
        Some(24) => "EMFILE",
        Some(23) => "ENFILE",
        Some(22) => "EINVAL",
        Some(5) => "EIO",
        _ => "ERR_NATIVE_FD",
    }
}

/// A non-negative int32 file descriptor argument, or a thrown TypeError.
unsafe fn fd_argument(env: Env, info: CallbackInfo, name: &str) -> Result<c_int, Value> {
    let Some([fd_arg]) = arguments::<1>(env, info) else {
        return Err(throw(env, ErrorKind::Type, "ERR_INVALID_ARG_COUNT", &format!("{name}(fd): 1 argument expected")));
    };
    match int32(env, fd_arg) {
        Some(fd) if fd >= 0 => Ok(fd),
        _ => Err(throw(env, ErrorKind::Type, "ERR_INVALID_ARG_TYPE", &format!("{name}: fd must be a non-negative integer"))),
    }
}

/// `dup(fd) -> newFd`; throws with the errno text on failure.
unsafe extern "C" fn js_dup(env: Env, info: CallbackInfo) -> Value {
    let fd = match fd_argument(env, info, "dup") {
        Ok(fd) => fd,
        Err(thrown) => return thrown,
    };
    match fd::duplicate(fd) {
        Ok(copy) => int32_value(env, copy),
        Err(error) => throw(env, ErrorKind::Plain, errno_code(&error), &format!("dup({fd}) failed: {error}")),
    }
}

/// `close(fd)`; throws with the errno text on failure.
unsafe extern "C" fn js_close(env: Env, info: CallbackInfo) -> Value {
    let fd = match fd_argument(env, info, "close") {
        Ok(fd) => fd,
        Err(thrown) => return thrown,
    };
    match fd::release(fd) {
        Ok(()) => undefined(env),
        Err(error) => throw(env, ErrorKind::Plain, errno_code(&error), &format!("close({fd}) failed: {error}")),
    }
}

#[cfg(unix)]
unsafe fn export_accept(env: Env, exports: Value) -> bool {
    export(env, exports, b"acceptConnections\0", accept::js_accept_connections)
        && export(env, exports, b"resumeAccepting\0", accept::js_resume_accepting)
        && export(env, exports, b"stopAccepting\0", accept::js_stop_accepting)
        && export_connections(env, exports)
}

/// Linux only (epoll); elsewhere workers run every client on a net.Socket.
#[cfg(target_os = "linux")]
unsafe fn export_connections(env: Env, exports: Value) -> bool {
    export(env, exports, b"connectionEvents\0", connection::js_connection_events)
        && export(env, exports, b"openConnection\0", connection::js_open_connection)
        && export(env, exports, b"writeConnection\0", connection::js_write_connection)
        && export(env, exports, b"pollConnection\0", connection::js_poll_connection)
        && export(env, exports, b"shutdownConnection\0", connection::js_shutdown_connection)
        && export(env, exports, b"closeConnection\0", connection::js_close_connection)
}

#[cfg(all(unix, not(target_os = "linux")))]
unsafe fn export_connections(_env: Env, _exports: Value) -> bool {
    true
}

/// Without Unix sockets there is nothing to hand to workers (the one worker listens itself).
#[cfg(not(unix))]
unsafe fn export_accept(_env: Env, _exports: Value) -> bool {
    true
}

unsafe fn export(env: Env, exports: Value, name: &'static [u8], callback: napi::Callback) -> bool {
    let mut function: Value = ptr::null_mut();
    let name_ptr = name.as_ptr() as *const c_char;
    napi::napi_create_function(env, name_ptr, name.len() - 1, callback, ptr::null_mut(), &mut function) == napi::STATUS_OK
        && napi::napi_set_named_property(env, exports, name_ptr, function) == napi::STATUS_OK
}

/// Called by Node once per environment (main thread, each worker) that loads the addon.
///
/// # Safety
/// Only Node calls this, with a live `env` and its `exports` object.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: Env, exports: Value) -> Value {
    let registered =
        export(env, exports, b"parse\0", js_parse) && export(env, exports, b"dup\0", js_dup) && export(env, exports, b"close\0", js_close)
        && export(env, exports, b"trimMemory\0", js_trim_memory)
        && export_accept(env, exports);
    if registered {
        exports
    } else {
        throw(env, ErrorKind::Plain, "ERR_NATIVE_INIT", "natrium addon: could not register its functions")
    }
}
