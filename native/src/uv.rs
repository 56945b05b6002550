//! The few libuv functions the accept loop and the connections call, declared by hand (like
//! `napi.rs`) and resolved against the Node binary at load time, plus the one allocation they share.

use std::ffi::{c_char, c_int, c_void};

/// `uv_handle_type` of a uv_poll_t (uv.h's UV_HANDLE_TYPE_MAP order, stable across libuv 1.x).
const UV_POLL: c_int = 8;
pub const UV_READABLE: c_int = 1;

pub type PollCallback = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
pub type CloseCallback = unsafe extern "C" fn(handle: *mut c_void);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    pub fn uv_poll_init(event_loop: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
    pub fn uv_poll_start(handle: *mut c_void, events: c_int, callback: PollCallback) -> c_int;
    pub fn uv_poll_stop(handle: *mut c_void) -> c_int;
    pub fn uv_close(handle: *mut c_void, callback: CloseCallback);
    pub fn uv_ref(handle: *mut c_void);
    pub fn uv_unref(handle: *mut c_void);
    pub fn uv_strerror(error: c_int) -> *const c_char;
    pub fn uv_err_name(error: c_int) -> *const c_char;
}

/// Zeroed, 8-byte aligned memory for one uv_poll_t (its size comes from the running libuv). Its
/// first field, `data`, is where the owner stores a pointer back to itself.
pub fn poll_memory() -> Vec<u64> {
    vec![0u64; unsafe { uv_handle_size(UV_POLL) }.div_ceil(8)]
}
