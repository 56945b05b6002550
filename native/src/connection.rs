//! Plain TCP client connections for a worker without Node's net.Socket.
//!
//! A net.Socket around an adopted fd costs a handle-type probe, a stream pair with their states,
//! and per read and write a trip through the stream machinery; in a connection storm that was a
//! third of a worker's time. Here each thread keeps one epoll set of its connections, and one
//! uv_poll on that set wakes the thread's loop: per wake-up every ready connection gets one read
//! (at most READ_SIZE; level-triggered, so what is left is reported again on the next turn of the
//! loop), and JS gets all the events of the wake-up in one call. Adding a connection is one
//! epoll_ctl (a uv_poll per connection took four system calls). Writes are writev(2) calls JS
//! makes directly; what the socket does not take now, JS keeps and retries once the connection
//! reports writable.
//!
//! JS registers one callback per environment (`connectionEvents`), called as `onEvents(batch)`,
//! `batch` being `[id, kind, data, id, kind, data, ...]`, kind one of the EVENT_* values below.

use crate::napi::{self, Env, Value};
use crate::uv::{poll_memory, uv_close, uv_poll_init, uv_poll_start, uv_ref, uv_unref, UV_READABLE};
use std::ffi::{c_int, c_void};
use std::ptr;

const EVENT_DATA: i32 = 0;
const EVENT_END: i32 = 1;
const EVENT_ERROR: i32 = 2;
const EVENT_WRITABLE: i32 = 3;

/// Per read; as libuv's read size for a stream.
const READ_SIZE: usize = 64 * 1024;
/// Ready connections taken per wake-up; more are reported again on the loop's next turn.
const MAX_READY_PER_WAKE: usize = 256;
/// writev(2) takes at most IOV_MAX (1024 on Linux) buffers per call.
const MAX_IOVECS: usize = 1024;

#[repr(C)]
struct IoVec {
    base: *const c_void,
    length: usize,
}

/// Linux's struct epoll_event: packed on x86-64 (and only there).
#[cfg_attr(target_arch = "x86_64", repr(C, packed))]
#[cfg_attr(not(target_arch = "x86_64"), repr(C))]
#[derive(Clone, Copy)]
struct EpollEvent {
    events: u32,
    data: u64,
}

const EPOLLIN: u32 = 0x001;
const EPOLLOUT: u32 = 0x004;
const EPOLLERR: u32 = 0x008;
const EPOLLHUP: u32 = 0x010;
const EPOLL_CTL_ADD: c_int = 1;
const EPOLL_CTL_DEL: c_int = 2;
const EPOLL_CTL_MOD: c_int = 3;
const EPOLL_CLOEXEC: c_int = 0o2000000;

extern "C" {
    fn read(fd: c_int, buffer: *mut c_void, count: usize) -> isize;
    fn writev(fd: c_int, iov: *const IoVec, count: c_int) -> isize;
    fn shutdown(fd: c_int, how: c_int) -> c_int;
    fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, length: u32) -> c_int;
    fn epoll_create1(flags: c_int) -> c_int;
    fn epoll_ctl(epoll: c_int, operation: c_int, fd: c_int, event: *mut EpollEvent) -> c_int;
    fn epoll_wait(epoll: c_int, events: *mut EpollEvent, max_events: c_int, timeout: c_int) -> c_int;
}

const IPPROTO_TCP: c_int = 6;
const TCP_NODELAY: c_int = 1;
const SHUT_WR: c_int = 1;

fn last_errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A thread's connections: their event callback, the epoll set and the uv_poll that watches it,
/// the read buffer, and the open connections, which the thread's teardown closes (libuv refuses to
/// close a loop with handles still open). Node-API instance data; freed at teardown once the
/// uv_poll's close callback ran.
struct Events {
    env: Env,
    callback: napi::Ref,
    async_context: napi::AsyncContext,
    epoll: c_int,
    /// The uv_poll_t on `epoll`, 8-byte aligned; its first field (`data`) points back here.
    poll: Vec<u64>,
    scratch: Vec<u8>,
    ready: Vec<EpollEvent>,
    open: Vec<*mut Connection>,
    /// Set while the environment is torn down: the hook to remove once the uv_poll is closed.
    teardown: Option<napi::AsyncCleanupHandle>,
}

/// One connection; owned by its thread's open list until closed and by the JS external until its
/// finalizer, and freed by the last of them.
struct Connection {
    owners: u8,
    events: *mut Events,
    /// Index in `events.open` while open.
    slot: usize,
    fd: c_int,
    id: i32,
    reading: bool,
    want_writable: bool,
    /// The epoll events asked for now; 0 when not in the set.
    interest: u32,
    closed: bool,
}

impl Connection {
    /// Watches for what is wanted now. Nothing wanted takes the fd out of the set: epoll reports
    /// a hang-up even to an fd that asked for nothing, and level-triggered it would never stop.
    unsafe fn update_interest(&mut self) -> Result<(), c_int> {
        let wanted = (if self.reading { EPOLLIN } else { 0 }) | (if self.want_writable { EPOLLOUT } else { 0 });
        if self.closed || wanted == self.interest {
            return Ok(());
        }
        let operation = if wanted == 0 {
            EPOLL_CTL_DEL
        } else if self.interest == 0 {
            EPOLL_CTL_ADD
        } else {
            EPOLL_CTL_MOD
        };
        let mut event = EpollEvent { events: wanted, data: self as *mut Connection as u64 };
        if epoll_ctl((*self.events).epoll, operation, self.fd, &mut event) != 0 {
            return Err(last_errno());
        }
        self.interest = wanted;
        Ok(())
    }
}

unsafe fn events_of(env: Env) -> Option<*mut Events> {
    let mut data: *mut c_void = ptr::null_mut();
    if napi::napi_get_instance_data(env, &mut data) != napi::STATUS_OK || data.is_null() {
        return None;
    }
    Some(data as *mut Events)
}

/// Takes the fd out of the set and closes it; the Connection leaves the open list, and the
/// thread's loop is no longer kept alive by it.
unsafe fn close(connection: *mut Connection) {
    let events = (*connection).events;
    (*connection).reading = false;
    (*connection).want_writable = false;
    // Explicitly: a copy of the fd (a fork's, for a moment) would keep it in the set after close.
    let _ = (*connection).update_interest();
    (*connection).closed = true;
    let slot = (*connection).slot;
    let open = &mut (*events).open;
    open.swap_remove(slot);
    if slot < open.len() {
        (*open[slot]).slot = slot;
    }
    if open.is_empty() {
        uv_unref((*events).poll.as_mut_ptr() as *mut c_void);
    }
    let _ = crate::fd::release((*connection).fd);
    release_owner(connection);
}

/// The thread is going away: close every connection still open and the uv_poll, then let Node
/// finish.
unsafe extern "C" fn on_teardown(handle: napi::AsyncCleanupHandle, data: *mut c_void) {
    let events = data as *mut Events;
    (*events).teardown = Some(handle);
    while let Some(&connection) = (*events).open.last() {
        close(connection);
    }
    uv_close((*events).poll.as_mut_ptr() as *mut c_void, on_poll_closed);
}

unsafe extern "C" fn on_poll_closed(handle: *mut c_void) {
    let events = *(handle as *mut *mut Events);
    let _ = crate::fd::release((*events).epoll);
    if let Some(teardown) = (*events).teardown.take() {
        napi::napi_remove_async_cleanup_hook(teardown);
    }
    drop(Box::from_raw(events));
}

unsafe fn error_value(env: Env, errno: c_int) -> Value {
    let text = crate::accept::error_text(errno);
    crate::accept::string_value(env, &text)
}

/// The events of one wake-up, in the order they happened, for one JS call.
struct Batch {
    env: Env,
    array: Value,
    length: u32,
}

impl Batch {
    unsafe fn push(&mut self, id: i32, kind: i32, data: Value) {
        let env = self.env;
        napi::napi_set_element(env, self.array, self.length, crate::int32_value(env, id));
        napi::napi_set_element(env, self.array, self.length + 1, crate::int32_value(env, kind));
        napi::napi_set_element(env, self.array, self.length + 2, data);
        self.length += 3;
    }
}

/// The epoll set has ready connections: one read each (or its end, or its error), and the
/// writable ones that wait for it; then `onEvents(batch)`, whose throw becomes the process's
/// uncaught exception. JS runs only after every ready event was taken, so none of them points at a
/// connection JS closed.
unsafe extern "C" fn on_epoll_ready(handle: *mut c_void, _status: c_int, _ready: c_int) {
    let events = &mut **(handle as *mut *mut Events);
    let env = events.env;
    let count = epoll_wait(events.epoll, events.ready.as_mut_ptr(), MAX_READY_PER_WAKE as c_int, 0);
    if count <= 0 {
        return;
    }
    let mut scope: napi::HandleScope = ptr::null_mut();
    napi::napi_open_handle_scope(env, &mut scope);
    let mut batch = Batch { env, array: ptr::null_mut(), length: 0 };
    // Empty: an event may add nothing (a read that found no bytes) or two entries (data, writable).
    napi::napi_create_array_with_length(env, 0, &mut batch.array);
    for index in 0..count as usize {
        let ready = events.ready[index];
        let connection = ready.data as *mut Connection;
        let flags = ready.events;
        if (*connection).reading && flags & (EPOLLIN | EPOLLHUP | EPOLLERR) != 0 {
            read_once(connection, events, &mut batch);
        }
        if (*connection).want_writable && flags & (EPOLLOUT | EPOLLHUP | EPOLLERR) != 0 {
            (*connection).want_writable = false;
            let _ = (*connection).update_interest();
            batch.push((*connection).id, EVENT_WRITABLE, crate::undefined(env));
        }
    }
    if batch.length > 0 {
        let mut callback: Value = ptr::null_mut();
        napi::napi_get_reference_value(env, events.callback, &mut callback);
        let mut receiver: Value = ptr::null_mut();
        napi::napi_get_global(env, &mut receiver);
        let mut result: Value = ptr::null_mut();
        if napi::napi_make_callback(env, events.async_context, receiver, callback, 1, &batch.array, &mut result) != napi::STATUS_OK {
            let mut exception: Value = ptr::null_mut();
            if napi::napi_get_and_clear_last_exception(env, &mut exception) == napi::STATUS_OK && !exception.is_null() {
                napi::napi_fatal_exception(env, exception);
            }
        }
    }
    napi::napi_close_handle_scope(env, scope);
}

/// One read: DATA with the bytes, END at the end of the stream, ERROR on a socket error (both stop
/// the watching that has no use any more).
unsafe fn read_once(connection: *mut Connection, events: &mut Events, batch: &mut Batch) {
    let env = events.env;
    let id = (*connection).id;
    loop {
        let count = read((*connection).fd, events.scratch.as_mut_ptr() as *mut c_void, events.scratch.len());
        if count > 0 {
            let mut buffer: Value = ptr::null_mut();
            napi::napi_create_buffer_copy(env, count as usize, events.scratch.as_ptr() as *const c_void, ptr::null_mut(), &mut buffer);
            batch.push(id, EVENT_DATA, buffer);
            return;
        }
        if count == 0 {
            (*connection).reading = false;
            let _ = (*connection).update_interest();
            batch.push(id, EVENT_END, crate::undefined(env));
            return;
        }
        let error = std::io::Error::last_os_error();
        match error.kind() {
            std::io::ErrorKind::WouldBlock => return,
            std::io::ErrorKind::Interrupted => continue,
            _ => {
                (*connection).reading = false;
                (*connection).want_writable = false;
                let _ = (*connection).update_interest();
                batch.push(id, EVENT_ERROR, error_value(env, error.raw_os_error().unwrap_or(0)));
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

/// `connectionEvents(onEvents)`: where this environment's connections report (once per worker).
pub unsafe extern "C" fn js_connection_events(env: Env, info: napi::CallbackInfo) -> Value {
    const USAGE: &str = "connectionEvents(onEvents: (batch) => void)";
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
    let mut event_loop: *mut c_void = ptr::null_mut();
    if napi::napi_get_uv_event_loop(env, &mut event_loop) != napi::STATUS_OK {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", "connectionEvents: no event loop");
    }
    let epoll = epoll_create1(EPOLL_CLOEXEC);
    if epoll < 0 {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", &format!("connectionEvents: epoll_create1: {}", crate::accept::error_text(last_errno())));
    }
    let mut callback: napi::Ref = ptr::null_mut();
    napi::napi_create_reference(env, callback_value, 1, &mut callback);
    let mut async_context: napi::AsyncContext = ptr::null_mut();
    napi::napi_async_init(env, ptr::null_mut(), crate::accept::string_value(env, "natrium:connection"), &mut async_context);
    let events = Box::into_raw(Box::new(Events {
        env,
        callback,
        async_context,
        epoll,
        poll: poll_memory(),
        scratch: vec![0u8; READ_SIZE],
        ready: vec![EpollEvent { events: 0, data: 0 }; MAX_READY_PER_WAKE],
        open: Vec::new(),
        teardown: None,
    }));
    let handle = (*events).poll.as_mut_ptr() as *mut c_void;
    let mut result = uv_poll_init(event_loop, handle, epoll);
    if result == 0 {
        *(handle as *mut *mut Events) = events;
        result = uv_poll_start(handle, UV_READABLE, on_epoll_ready);
        if result != 0 {
            uv_close(handle, on_poll_closed);
        }
    } else {
        let _ = crate::fd::release(epoll);
        drop(Box::from_raw(events));
    }
    if result != 0 {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", &format!("connectionEvents: {}", crate::accept::error_text(-result)));
    }
    // Open connections keep the loop alive, as sockets do; an empty set does not.
    uv_unref(handle);
    // Freed once the uv_poll is closed at teardown (the callback and context go with the environment).
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
    let on: c_int = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on as *const c_int as *const c_void, std::mem::size_of::<c_int>() as u32);
    let connection = Box::into_raw(Box::new(Connection { owners: 1, events, slot: 0, fd, id, reading: true, want_writable: false, interest: 0, closed: false }));
    if let Err(errno) = (*connection).update_interest() {
        release_owner(connection);
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", &format!("openConnection({fd}): {}", crate::accept::error_text(errno)));
    }
    if (*events).open.is_empty() {
        uv_ref((*events).poll.as_mut_ptr() as *mut c_void);
    }
    (*connection).slot = (*events).open.len();
    (*events).open.push(connection);
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
    if let Err(errno) = connection.update_interest() {
        return crate::throw(env, crate::ErrorKind::Plain, "ERR_NATIVE_CONNECTION", &format!("pollConnection: {}", crate::accept::error_text(errno)));
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

/// `closeConnection(connection)`: stops watching and closes the fd. Idempotent.
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
