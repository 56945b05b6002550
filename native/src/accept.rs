//! Accepting connections for the main thread without libuv's TCP handles.
//!
//! The main thread only accepts and hands each fd to a worker. Through net.Server every accepted
//! connection became a JS TCP handle, a dup(2) for the worker, and a close of the original; here a
//! uv_poll on the listening socket wakes the loop, accept4(2) takes every pending connection (its
//! peer address comes with it: no getpeername later), and JS gets the whole batch in one call.
//!
//! The libuv and Node-API symbols are resolved against the Node binary when the addon is loaded.

use crate::napi::{self, Env, Value};
use crate::uv::{poll_memory, uv_close, uv_err_name, uv_poll_init, uv_poll_start, uv_poll_stop, uv_strerror, UV_READABLE};
use std::ffi::{c_int, c_void};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ptr;

/// At most this many accepts per wake-up, so one listener cannot hold the loop.
const MAX_ACCEPTS_PER_WAKE: usize = 256;

mod sys {
    use std::ffi::c_int;

    /// Big enough for sockaddr_in and sockaddr_in6 (sockaddr_storage's 128 bytes).
    #[repr(C, align(8))]
    pub struct SockaddrStorage(pub [u8; 128]);

    extern "C" {
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
        pub fn accept4(fd: c_int, address: *mut SockaddrStorage, length: *mut u32, flags: c_int) -> c_int;
        #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
        pub fn accept(fd: c_int, address: *mut SockaddrStorage, length: *mut u32) -> c_int;
        #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
        pub fn fcntl(fd: c_int, command: c_int, ...) -> c_int;
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub const AF_INET6: u16 = 10;
    #[cfg(target_os = "freebsd")]
    pub const AF_INET6: u16 = 28;
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    pub const AF_INET6: u16 = 30;
    pub const AF_INET: u16 = 2;

    /// A connected socket, non-blocking and close-on-exec, as libuv would have made it.
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    pub unsafe fn accept_connection(listener: c_int, address: &mut SockaddrStorage, length: &mut u32) -> c_int {
        #[cfg(target_os = "freebsd")]
        const FLAGS: c_int = 0x2000_0000 | 0x0010_0000; // SOCK_CLOEXEC | SOCK_NONBLOCK
        #[cfg(not(target_os = "freebsd"))]
        const FLAGS: c_int = 0o2000000 | 0o4000; // SOCK_CLOEXEC | SOCK_NONBLOCK
        accept4(listener, address, length, FLAGS)
    }

    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    pub unsafe fn accept_connection(listener: c_int, address: &mut SockaddrStorage, length: &mut u32) -> c_int {
        const F_SETFD: c_int = 2;
        const FD_CLOEXEC: c_int = 1;
        const F_GETFL: c_int = 3;
        const F_SETFL: c_int = 4;
        const O_NONBLOCK: c_int = 4;
        let fd = accept(listener, address, length);
        if fd >= 0 {
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
        fd
    }
}

/// One listening socket polled on the loop of the environment that started it. Owned by the
/// uv_poll_t until its close callback and by the JS external until its finalizer: freed by the last.
struct Acceptor {
    owners: u8,
    env: Env,
    fd: c_int,
    /// The JS `onAccepted(batch, error)` callback.
    callback: napi::Ref,
    async_context: napi::AsyncContext,
    /// The uv_poll_t, 8-byte aligned; its first field (`data`) points back here.
    poll: Vec<u64>,
    polling: bool,
    closed: bool,
    /// Closes the poll if the environment goes away first (libuv refuses to close a loop with
    /// handles open); removed when the handle is closed.
    teardown: napi::AsyncCleanupHandle,
}

/// The peer as Node prints it (inet_ntop's text, the port in host order).
unsafe fn peer_of(address: &sys::SockaddrStorage) -> (String, u16) {
    let bytes = &address.0;
    let family = u16::from_ne_bytes([bytes[0], bytes[1]]);
    let port = u16::from_be_bytes([bytes[2], bytes[3]]);
    if family == sys::AF_INET {
        (Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]).to_string(), port)
    } else if family == sys::AF_INET6 {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&bytes[8..24]);
        (Ipv6Addr::from(octets).to_string(), port)
    } else {
        (String::new(), 0)
    }
}


pub(crate) unsafe fn string_value(env: Env, text: &str) -> Value {
    let mut result: Value = ptr::null_mut();
    napi::napi_create_string_utf8(env, text.as_ptr() as *const _, text.len(), &mut result);
    result
}

/// libuv's name for a (positive) errno, e.g. "EMFILE".
pub(crate) unsafe fn error_name(errno: c_int) -> String {
    std::ffi::CStr::from_ptr(uv_err_name(-errno)).to_string_lossy().into_owned()
}

/// "EMFILE: too many open files": libuv's name and text for a (positive) errno.
pub(crate) unsafe fn error_text(errno: c_int) -> String {
    let message = std::ffi::CStr::from_ptr(uv_strerror(-errno)).to_string_lossy();
    format!("{}: {message}", error_name(errno))
}

/// Takes every pending connection, then calls JS once with `[fd, ip, port, fd, ip, port, ...]` and,
/// when accepting stopped on an error other than "none pending", that error's text (polling is then
/// paused: the caller backs off and resumes, as nats-server sleeps after a temporary accept error).
unsafe extern "C" fn on_readable(handle: *mut c_void, status: c_int, _events: c_int) {
    let acceptor = &mut **(handle as *mut *mut Acceptor);
    let mut accepted: Vec<(c_int, String, u16)> = Vec::new();
    let mut failure: Option<String> = None;
    if status < 0 {
        failure = Some(error_text(-status));
    } else {
        while accepted.len() < MAX_ACCEPTS_PER_WAKE {
            let mut address = sys::SockaddrStorage([0; 128]);
            let mut length = address.0.len() as u32;
            let fd = sys::accept_connection(acceptor.fd, &mut address, &mut length);
            if fd >= 0 {
                let (ip, port) = peer_of(&address);
                accepted.push((fd, ip, port));
                continue;
            }
            let error = std::io::Error::last_os_error();
            match error.kind() {
                std::io::ErrorKind::WouldBlock => break,
                // ECONNABORTED: the peer left before it was taken.
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::ConnectionAborted => continue,
                _ => {
                    failure = Some(error_text(error.raw_os_error().unwrap_or(0)));
                    break;
                }
            }
        }
    }
    if failure.is_some() {
        uv_poll_stop(handle);
        acceptor.polling = false;
    } else if accepted.is_empty() {
        return;
    }
    let env = acceptor.env;
    let mut scope: napi::HandleScope = ptr::null_mut();
    napi::napi_open_handle_scope(env, &mut scope);
    let mut batch: Value = ptr::null_mut();
    napi::napi_create_array_with_length(env, accepted.len() * 3, &mut batch);
    for (i, (fd, ip, port)) in accepted.iter().enumerate() {
        let index = (i * 3) as u32;
        napi::napi_set_element(env, batch, index, crate::int32_value(env, *fd));
        napi::napi_set_element(env, batch, index + 1, string_value(env, ip));
        napi::napi_set_element(env, batch, index + 2, crate::int32_value(env, *port as i32));
    }
    let error = match &failure {
        Some(text) => string_value(env, text),
        None => crate::undefined(env),
    };
    let mut callback: Value = ptr::null_mut();
    napi::napi_get_reference_value(env, acceptor.callback, &mut callback);
    // napi_make_callback wants an object as `this`.
    let mut receiver: Value = ptr::null_mut();
    napi::napi_get_global(env, &mut receiver);
    let argv = [batch, error];
    let mut result: Value = ptr::null_mut();
    let status = napi::napi_make_callback(env, acceptor.async_context, receiver, callback, 2, argv.as_ptr(), &mut result);
    if status != napi::STATUS_OK {
        // A throw in the callback is the process's uncaught exception, as for any libuv callback.
        let mut exception: Value = ptr::null_mut();
        if napi::napi_get_and_clear_last_exception(env, &mut exception) == napi::STATUS_OK && !exception.is_null() {
            napi::napi_fatal_exception(env, exception);
        }
    }
    napi::napi_close_handle_scope(env, scope);
}

unsafe fn release_owner(acceptor: *mut Acceptor) {
    (*acceptor).owners -= 1;
    if (*acceptor).owners == 0 {
        let acceptor = Box::from_raw(acceptor);
        napi::napi_delete_reference(acceptor.env, acceptor.callback);
        napi::napi_async_destroy(acceptor.env, acceptor.async_context);
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    let acceptor = *(handle as *mut *mut Acceptor);
    if !(*acceptor).teardown.is_null() {
        napi::napi_remove_async_cleanup_hook((*acceptor).teardown);
        (*acceptor).teardown = ptr::null_mut();
    }
    release_owner(acceptor);
}

/// Stops polling, closes the socket, and closes the handle (the Acceptor goes with it).
unsafe fn close(acceptor: *mut Acceptor) {
    (*acceptor).closed = true;
    let poll = (*acceptor).poll.as_mut_ptr() as *mut c_void;
    uv_poll_stop(poll);
    (*acceptor).polling = false;
    // The poll no longer watches the fd, so it may go now.
    let _ = crate::fd::release((*acceptor).fd);
    uv_close(poll, on_closed);
}

unsafe extern "C" fn on_teardown(_handle: napi::AsyncCleanupHandle, data: *mut c_void) {
    let acceptor = data as *mut Acceptor;
    if !(*acceptor).closed {
        close(acceptor);
    }
}

unsafe extern "C" fn on_finalized(_env: Env, data: *mut c_void, _hint: *mut c_void) {
    release_owner(data as *mut Acceptor);
}

/// The Acceptor a call's only argument names (a value `acceptConnections` returned), or a thrown
/// TypeError.
unsafe fn acceptor_argument(env: Env, info: napi::CallbackInfo, name: &str) -> Result<&'static mut Acceptor, Value> {
    let Some([value]) = crate::arguments::<1>(env, info) else {
        return Err(crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_COUNT", &format!("{name}(acceptor)")));
    };
    let mut data: *mut c_void = ptr::null_mut();
    if napi::napi_get_value_external(env, value, &mut data) != napi::STATUS_OK || data.is_null() {
        return Err(crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", &format!("{name}: not an acceptor")));
    }
    Ok(&mut *(data as *mut Acceptor))
}

unsafe fn start_polling(acceptor: &mut Acceptor) -> c_int {
    if acceptor.polling || acceptor.closed {
        return 0;
    }
    let result = uv_poll_start(acceptor.poll.as_mut_ptr() as *mut c_void, UV_READABLE, on_readable);
    acceptor.polling = result == 0;
    result
}

/// `acceptConnections(listeningFd, onAccepted) -> acceptor`: polls the (non-blocking) listening
/// socket from now on; the acceptor owns the fd.
pub unsafe extern "C" fn js_accept_connections(env: Env, info: napi::CallbackInfo) -> Value {
    const USAGE: &str = "acceptConnections(fd: number, onAccepted: (batch, error) => void)";
    let Some([fd_value, callback_value]) = crate::arguments::<2>(env, info) else {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_COUNT", USAGE);
    };
    let fd = match crate::int32(env, fd_value) {
        Some(fd) if fd >= 0 => fd,
        _ => return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE),
    };
    let mut kind = 0;
    if napi::napi_typeof(env, callback_value, &mut kind) != napi::STATUS_OK || kind != napi::TYPE_FUNCTION {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE);
    }
    let mut event_loop: *mut c_void = ptr::null_mut();
    if napi::napi_get_uv_event_loop(env, &mut event_loop) != napi::STATUS_OK {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_ACCEPT", "acceptConnections: no event loop");
    }
    let mut callback: napi::Ref = ptr::null_mut();
    napi::napi_create_reference(env, callback_value, 1, &mut callback);
    let mut async_context: napi::AsyncContext = ptr::null_mut();
    napi::napi_async_init(env, ptr::null_mut(), string_value(env, "natrium:accept"), &mut async_context);
    let acceptor = Box::into_raw(Box::new(Acceptor {
        owners: 1,
        env,
        fd,
        callback,
        async_context,
        poll: poll_memory(),
        polling: false,
        closed: false,
        teardown: ptr::null_mut(),
    }));
    let poll = (*acceptor).poll.as_mut_ptr() as *mut c_void;
    let mut result = uv_poll_init(event_loop, poll, fd);
    if result == 0 {
        *(poll as *mut *mut Acceptor) = acceptor;
        napi::napi_add_async_cleanup_hook(env, on_teardown, acceptor as *mut c_void, &mut (*acceptor).teardown);
        result = start_polling(&mut *acceptor);
        if result != 0 {
            close(acceptor);
        }
    } else {
        release_owner(acceptor);
    }
    if result != 0 {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_ACCEPT", &format!("acceptConnections({fd}): {}", error_text(-result)));
    }
    let mut external: Value = ptr::null_mut();
    (*acceptor).owners += 1;
    if napi::napi_create_external(env, acceptor as *mut c_void, Some(on_finalized), ptr::null_mut(), &mut external) != napi::STATUS_OK {
        (*acceptor).owners -= 1;
    }
    external
}

/// `resumeAccepting(acceptor)`: polls again after an accept error paused it.
pub unsafe extern "C" fn js_resume_accepting(env: Env, info: napi::CallbackInfo) -> Value {
    let acceptor = match acceptor_argument(env, info, "resumeAccepting") {
        Ok(acceptor) => acceptor,
        Err(thrown) => return thrown,
    };
    let result = start_polling(acceptor);
    if result != 0 {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_ACCEPT", &format!("resumeAccepting: {}", error_text(-result)));
    }
    crate::undefined(env)
}

/// `stopAccepting(acceptor)`: stops polling and closes the listening socket (pending connections
/// are refused by the kernel from then on). Idempotent.
pub unsafe extern "C" fn js_stop_accepting(env: Env, info: napi::CallbackInfo) -> Value {
    let acceptor = match acceptor_argument(env, info, "stopAccepting") {
        Ok(acceptor) => acceptor,
        Err(thrown) => return thrown,
    };
    if !acceptor.closed {
        close(acceptor);
    }
    crate::undefined(env)
}
