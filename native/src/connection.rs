//! Plain TCP client connections for a worker without Node's net.Socket.
//!
//! A net.Socket around an adopted fd costs a handle-type probe, a stream pair with their states,
//! and per read and write a trip through the stream machinery; in a connection storm that was a
//! third of a worker's time. Here a uv_poll on the fd drives the connection: reads go to JS as
//! Buffers in one callback per read, writes are writev(2) calls JS makes directly (what the socket
//! does not take now, JS keeps and retries once the poll reports the socket writable).
//!
//! JS registers one event callback per environment (`connectionEvents`), called as
//! `onEvent(id, kind, data)`, kind being one of the EVENT_* values below.

use crate::napi::{self, Env, Value};
use crate::uv::{poll_memory, uv_close, uv_poll_init, uv_poll_start, uv_poll_stop, UV_READABLE, UV_WRITABLE};
use std::ffi::{c_int, c_void};
use std::ptr;

const EVENT_DATA: i32 = 0;
const EVENT_END: i32 = 1;
const EVENT_ERROR: i32 = 2;
const EVENT_WRITABLE: i32 = 3;

/// Per read; as libuv's read size for a stream.
const READ_SIZE: usize = 64 * 1024;
/// Reads per wake-up before other connections get their turn.
const MAX_READS_PER_WAKE: usize = 16;
/// writev(2) takes at most IOV_MAX (1024 on Linux) buffers per call.
const MAX_IOVECS: usize = 1024;

#[repr(C)]
struct IoVec {
    base: *const c_void,
    length: usize,
}

extern "C" {
    fn read(fd: c_int, buffer: *mut c_void, count: usize) -> isize;
    fn writev(fd: c_int, iov: *const IoVec, count: c_int) -> isize;
    fn shutdown(fd: c_int, how: c_int) -> c_int;
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, length: u32) -> c_int;
}

// The same on Linux, macOS and the BSDs.
const IPPROTO_TCP: c_int = 6;
const TCP_NODELAY: c_int = 1;
const SHUT_WR: c_int = 1;

/// A thread's connections: their event callback, the read buffer, and the open ones, which the
/// thread's teardown closes (libuv refuses to close a loop with handles still open).
/// Node-API instance data; freed at teardown once the last handle's close callback ran.
struct Events {
    callback: napi::Ref,
    async_context: napi::AsyncContext,
    scratch: Vec<u8>,
    open: Vec<*mut Connection>,
    /// uv_close calls whose callback has not run yet.
    closing: usize,
    /// Set while the environment is torn down: the hook to remove once nothing is closing.
    teardown: Option<napi::AsyncCleanupHandle>,
}

impl Events {
    /// The teardown is over when no handle is left closing.
    unsafe fn finish_teardown_if_done(this: *mut Events) {
        if (*this).closing == 0 {
            if let Some(handle) = (*this).teardown.take() {
                napi::napi_remove_async_cleanup_hook(handle);
                drop(Box::from_raw(this));
            }
        }
    }
}

/// One connection; owned by its uv_poll_t until the close callback and by the JS external until its
/// finalizer, and freed by the last of them.
struct Connection {
    owners: u8,
    env: Env,
    events: *mut Events,
    /// Index in `events.open` while open.
    slot: usize,
    fd: c_int,
    id: i32,
    /// The uv_poll_t, 8-byte aligned; its first field (`data`) points back here.
    poll: Vec<u64>,
    reading: bool,
    want_writable: bool,
    closed: bool,
}

impl Connection {
    fn handle(&mut self) -> *mut c_void {
        self.poll.as_mut_ptr() as *mut c_void
    }

    /// Polls for what is wanted now (nothing: the poll stops).
    unsafe fn update_poll(&mut self) -> c_int {
        if self.closed {
            return 0;
        }
        let events = (if self.reading { UV_READABLE } else { 0 }) | (if self.want_writable { UV_WRITABLE } else { 0 });
        if events == 0 {
            uv_poll_stop(self.handle())
        } else {
            uv_poll_start(self.handle(), events, on_poll)
        }
    }
}

unsafe fn events_of(env: Env) -> Option<*mut Events> {
    let mut data: *mut c_void = ptr::null_mut();
    if napi::napi_get_instance_data(env, &mut data) != napi::STATUS_OK || data.is_null() {
        return None;
    }
    Some(data as *mut Events)
}

/// Stops polling, closes the fd and the handle; the Connection leaves the open list.
unsafe fn close(connection: *mut Connection) {
    let events = (*connection).events;
    (*connection).closed = true;
    let slot = (*connection).slot;
    let open = &mut (*events).open;
    open.swap_remove(slot);
    if slot < open.len() {
        (*open[slot]).slot = slot;
    }
    let handle = (*connection).handle();
    uv_poll_stop(handle);
    let _ = crate::fd::release((*connection).fd);
    (*events).closing += 1;
    uv_close(handle, on_closed);
}

/// The thread is going away: close every connection still open, then let Node finish.
unsafe extern "C" fn on_teardown(handle: napi::AsyncCleanupHandle, data: *mut c_void) {
    let events = data as *mut Events;
    (*events).teardown = Some(handle);
    while let Some(&connection) = (*events).open.last() {
        close(connection);
    }
    Events::finish_teardown_if_done(events);
}

/// Calls `onEvent(id, kind, data)`; a throw becomes the process's uncaught exception.
unsafe fn emit(env: Env, events: &Events, id: i32, kind: i32, data: Value) {
    let mut callback: Value = ptr::null_mut();
    napi::napi_get_reference_value(env, events.callback, &mut callback);
    let mut receiver: Value = ptr::null_mut();
    napi::napi_get_global(env, &mut receiver);
    let argv = [crate::int32_value(env, id), crate::int32_value(env, kind), data];
    let mut result: Value = ptr::null_mut();
    if napi::napi_make_callback(env, events.async_context, receiver, callback, 3, argv.as_ptr(), &mut result) != napi::STATUS_OK {
        let mut exception: Value = ptr::null_mut();
        if napi::napi_get_and_clear_last_exception(env, &mut exception) == napi::STATUS_OK && !exception.is_null() {
            napi::napi_fatal_exception(env, exception);
        }
    }
}

unsafe fn error_value(env: Env, errno: c_int) -> Value {
    let text = crate::accept::error_text(errno);
    crate::accept::string_value(env, &text)
}

// The Connection is reached through a raw pointer: JS may pause or close it during any event.
unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, ready: c_int) {
    let connection: *mut Connection = *(handle as *mut *mut Connection);
    let env = (*connection).env;
    let Some(events) = events_of(env) else { return };
    let events = &mut *events;
    let mut scope: napi::HandleScope = ptr::null_mut();
    napi::napi_open_handle_scope(env, &mut scope);
    let id = (*connection).id;
    if status < 0 {
        (*connection).reading = false;
        (*connection).want_writable = false;
        (*connection).update_poll();
        emit(env, events, id, EVENT_ERROR, error_value(env, -status));
    } else {
        if ready & UV_READABLE != 0 {
            read_available(connection, events);
        }
        if ready & UV_WRITABLE != 0 && (*connection).want_writable && !(*connection).closed {
            (*connection).want_writable = false;
            (*connection).update_poll();
            emit(env, events, id, EVENT_WRITABLE, crate::undefined(env));
        }
    }
    napi::napi_close_handle_scope(env, scope);
}

/// Reads until the socket is drained (or MAX_READS_PER_WAKE), one DATA event per read; stops
/// early when JS paused or closed the connection in between.
unsafe fn read_available(connection: *mut Connection, events: &mut Events) {
    let env = (*connection).env;
    let id = (*connection).id;
    for _ in 0..MAX_READS_PER_WAKE {
        if (*connection).closed || !(*connection).reading {
            return;
        }
        let count = read((*connection).fd, events.scratch.as_mut_ptr() as *mut c_void, events.scratch.len());
        if count > 0 {
            let count = count as usize;
            let mut buffer: Value = ptr::null_mut();
            napi::napi_create_buffer_copy(env, count, events.scratch.as_ptr() as *const c_void, ptr::null_mut(), &mut buffer);
            emit(env, events, id, EVENT_DATA, buffer);
            // A short read took all there was: the next readiness report brings more.
            if count < events.scratch.len() {
                return;
            }
            continue;
        }
        if count == 0 {
            (*connection).reading = false;
            (*connection).update_poll();
            emit(env, events, id, EVENT_END, crate::undefined(env));
            return;
        }
        let error = std::io::Error::last_os_error();
        match error.kind() {
            std::io::ErrorKind::WouldBlock => return,
            std::io::ErrorKind::Interrupted => continue,
            _ => {
                (*connection).reading = false;
                (*connection).want_writable = false;
                (*connection).update_poll();
                emit(env, events, id, EVENT_ERROR, error_value(env, error.raw_os_error().unwrap_or(0)));
                return;
            }
        }
    }
}

unsafe fn release_owner(connection: *mut Connection) {
    (*connection).owners -= 1;
    if (*connection).owners == 0 {
        drop(Box::from_raw(connection));
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    let connection = *(handle as *mut *mut Connection);
    let events = (*connection).events;
    release_owner(connection);
    (*events).closing -= 1;
    Events::finish_teardown_if_done(events);
}

unsafe extern "C" fn on_finalized(_env: Env, data: *mut c_void, _hint: *mut c_void) {
    release_owner(data as *mut Connection);
}

unsafe fn connection_argument(env: Env, value: Value, name: &str) -> Result<&'static mut Connection, Value> {
    let mut data: *mut c_void = ptr::null_mut();
    if napi::napi_get_value_external(env, value, &mut data) != napi::STATUS_OK || data.is_null() {
        return Err(crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", &format!("{name}: not a connection")));
    }
    Ok(&mut *(data as *mut Connection))
}

/// The Connection a call's only argument names, or a thrown TypeError.
unsafe fn only_connection_argument(env: Env, info: napi::CallbackInfo, name: &str) -> Result<&'static mut Connection, Value> {
    let Some([value]) = crate::arguments::<1>(env, info) else {
        return Err(crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_COUNT", &format!("{name}(connection)")));
    };
    connection_argument(env, value, name)
}

unsafe fn boolean(env: Env, value: Value) -> Option<bool> {
    let mut result = false;
    (napi::napi_get_value_bool(env, value, &mut result) == napi::STATUS_OK).then_some(result)
}

/// `connectionEvents(onEvent)`: where this environment's connections report (once per worker).
pub unsafe extern "C" fn js_connection_events(env: Env, info: napi::CallbackInfo) -> Value {
    const USAGE: &str = "connectionEvents(onEvent: (id, kind, data) => void)";
    let Some([callback_value]) = crate::arguments::<1>(env, info) else {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_COUNT", USAGE);
    };
    let mut kind = 0;
    if napi::napi_typeof(env, callback_value, &mut kind) != napi::STATUS_OK || kind != napi::TYPE_FUNCTION {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE);
    }
    if events_of(env).is_some() {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", "connectionEvents: already set in this environment");
    }
    let mut callback: napi::Ref = ptr::null_mut();
    napi::napi_create_reference(env, callback_value, 1, &mut callback);
    let mut async_context: napi::AsyncContext = ptr::null_mut();
    napi::napi_async_init(env, ptr::null_mut(), crate::accept::string_value(env, "natrium:connection"), &mut async_context);
    let events = Box::into_raw(Box::new(Events { callback, async_context, scratch: vec![0u8; READ_SIZE], open: Vec::new(), closing: 0, teardown: None }));
    // Freed by the teardown hook, after the handles it closes (the callback and context go with the
    // environment).
    napi::napi_set_instance_data(env, events as *mut c_void, None, ptr::null_mut());
    napi::napi_add_async_cleanup_hook(env, on_teardown, events as *mut c_void, ptr::null_mut());
    crate::undefined(env)
}

/// `openConnection(fd, id) -> connection`: TCP_NODELAY on, reading from now on; owns the fd.
pub unsafe extern "C" fn js_open_connection(env: Env, info: napi::CallbackInfo) -> Value {
    const USAGE: &str = "openConnection(fd: number, id: number)";
    let Some([fd_value, id_value]) = crate::arguments::<2>(env, info) else {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_COUNT", USAGE);
    };
    let (Some(fd), Some(id)) = (crate::int32(env, fd_value), crate::int32(env, id_value)) else {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE);
    };
    if fd < 0 {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE);
    }
    let Some(events) = events_of(env) else {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", "openConnection: call connectionEvents first");
    };
    let mut event_loop: *mut c_void = ptr::null_mut();
    if napi::napi_get_uv_event_loop(env, &mut event_loop) != napi::STATUS_OK {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", "openConnection: no event loop");
    }
    let on: c_int = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on as *const c_int as *const c_void, std::mem::size_of::<c_int>() as u32);
    let connection =
        Box::into_raw(Box::new(Connection { owners: 1, env, events, slot: 0, fd, id, poll: poll_memory(), reading: true, want_writable: false, closed: false }));
    let handle = (*connection).handle();
    let mut result = uv_poll_init(event_loop, handle, fd);
    if result != 0 {
        release_owner(connection);
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", &format!("openConnection({fd}): {}", crate::accept::error_text(-result)));
    }
    *(handle as *mut *mut Connection) = connection;
    (*connection).slot = (*events).open.len();
    (*events).open.push(connection);
    result = (*connection).update_poll();
    if result != 0 {
        close(connection);
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", &format!("openConnection({fd}): {}", crate::accept::error_text(-result)));
    }
    let mut external: Value = ptr::null_mut();
    (*connection).owners += 1;
    if napi::napi_create_external(env, connection as *mut c_void, Some(on_finalized), ptr::null_mut(), &mut external) != napi::STATUS_OK {
        (*connection).owners -= 1;
    }
    external
}

/// The bytes of a Uint8Array (a Buffer), or None.
unsafe fn bytes_of(env: Env, value: Value) -> Option<IoVec> {
    let (data, length) = crate::typed_array(env, value, napi::UINT8_ARRAY)?;
    Some(IoVec { base: data as *const c_void, length })
}

/// `writeConnection(connection, buffers: Uint8Array[]) -> written`: writes as much of the buffers,
/// in order, as the socket takes now; the bytes written, or a thrown error (EPIPE, ECONNRESET...).
pub unsafe extern "C" fn js_write_connection(env: Env, info: napi::CallbackInfo) -> Value {
    const USAGE: &str = "writeConnection(connection, buffers: Uint8Array[])";
    let Some([connection_value, buffers]) = crate::arguments::<2>(env, info) else {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_COUNT", USAGE);
    };
    let connection = match connection_argument(env, connection_value, "writeConnection") {
        Ok(connection) => connection,
        Err(thrown) => return thrown,
    };
    if connection.closed {
        return crate::throw(env, crate::ErrorKind::Plain, "EBADF", "writeConnection: the connection is closed");
    }
    let mut count = 0u32;
    if napi::napi_get_array_length(env, buffers, &mut count) != napi::STATUS_OK {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE);
    }
    let mut vectors: Vec<IoVec> = Vec::with_capacity((count as usize).min(MAX_IOVECS));
    let mut total: usize = 0;
    let mut next = 0u32;
    loop {
        vectors.clear();
        let mut offered = 0usize;
        while next < count && vectors.len() < MAX_IOVECS {
            let mut element: Value = ptr::null_mut();
            napi::napi_get_element(env, buffers, next, &mut element);
            let Some(vector) = bytes_of(env, element) else {
                return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE);
            };
            next += 1;
            if vector.length > 0 {
                offered += vector.length;
                vectors.push(vector);
            }
        }
        if vectors.is_empty() {
            break;
        }
        let written = writev(connection.fd, vectors.as_ptr(), vectors.len() as c_int);
        if written < 0 {
            let error = std::io::Error::last_os_error();
            match error.kind() {
                std::io::ErrorKind::WouldBlock => break,
                std::io::ErrorKind::Interrupted => {
                    next -= vectors.len() as u32;
                    continue;
                }
                _ => {
                    let errno = error.raw_os_error().unwrap_or(0);
                    return crate::throw(env, crate::ErrorKind::Plain, &crate::accept::error_name(errno), &crate::accept::error_text(errno));
                }
            }
        }
        total += written as usize;
        if (written as usize) < offered {
            break;
        }
    }
    crate::double_value(env, total as f64)
}

/// `pollConnection(connection, reading, wantWritable)`: reads only while `reading`; one WRITABLE
/// event when the socket takes bytes again, if `wantWritable`.
pub unsafe extern "C" fn js_poll_connection(env: Env, info: napi::CallbackInfo) -> Value {
    const USAGE: &str = "pollConnection(connection, reading: boolean, wantWritable: boolean)";
    let Some([connection_value, reading_value, writable_value]) = crate::arguments::<3>(env, info) else {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_COUNT", USAGE);
    };
    let connection = match connection_argument(env, connection_value, "pollConnection") {
        Ok(connection) => connection,
        Err(thrown) => return thrown,
    };
    let (Some(reading), Some(want_writable)) = (boolean(env, reading_value), boolean(env, writable_value)) else {
        return crate::throw(env, crate::ErrorKind::Type, "ERR_INVALID_ARG_TYPE", USAGE);
    };
    connection.reading = reading;
    connection.want_writable = want_writable;
    let result = connection.update_poll();
    if result != 0 {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", &format!("pollConnection: {}", crate::accept::error_text(-result)));
    }
    crate::undefined(env)
}

/// `shutdownConnection(connection)`: sends FIN (shutdown(SHUT_WR)); reading goes on.
pub unsafe extern "C" fn js_shutdown_connection(env: Env, info: napi::CallbackInfo) -> Value {
    let connection = match only_connection_argument(env, info, "shutdownConnection") {
        Ok(connection) => connection,
        Err(thrown) => return thrown,
    };
    // A peer already gone makes this fail (ENOTCONN); the close that follows is what matters.
    if !connection.closed {
        shutdown(connection.fd, SHUT_WR);
    }
    crate::undefined(env)
}

/// `closeConnection(connection)`: stops polling and closes the fd. Idempotent.
pub unsafe extern "C" fn js_close_connection(env: Env, info: napi::CallbackInfo) -> Value {
    let connection = match only_connection_argument(env, info, "closeConnection") {
        Ok(connection) => connection,
        Err(thrown) => return thrown,
    };
    if !connection.closed {
        close(connection);
    }
    crate::undefined(env)
}
