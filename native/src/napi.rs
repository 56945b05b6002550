//! The few Node-API functions this addon calls, declared by hand (no external crates).
//! Signatures follow node's `js_native_api.h` / `node_api.h`; the symbols are resolved against the
//! Node binary when the addon is loaded.

use std::ffi::{c_char, c_void};

#[repr(C)]
pub struct OpaqueEnv {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OpaqueValue {
    _private: [u8; 0],
}
#[repr(C)]
pub struct OpaqueCallbackInfo {
    _private: [u8; 0],
}

pub type Env = *mut OpaqueEnv;
pub type Value = *mut OpaqueValue;
pub type CallbackInfo = *mut OpaqueCallbackInfo;
pub type Status = i32;
pub type Callback = unsafe extern "C" fn(env: Env, info: CallbackInfo) -> Value;
pub type Finalize = unsafe extern "C" fn(env: Env, data: *mut c_void, hint: *mut c_void);
pub type Ref = *mut c_void;
pub type AsyncContext = *mut c_void;
pub type HandleScope = *mut c_void;
pub type AsyncCleanupHandle = *mut c_void;
pub type AsyncCleanupHook = unsafe extern "C" fn(handle: AsyncCleanupHandle, data: *mut c_void);

/// `napi_valuetype` of a function.
pub const TYPE_FUNCTION: i32 = 7;

pub const STATUS_OK: Status = 0;

/// `napi_typedarray_type` values used here.
pub const UINT8_ARRAY: i32 = 1;
pub const INT32_ARRAY: i32 = 5;

extern "C" {
    pub fn napi_create_function(
        env: Env,
        utf8name: *const c_char,
        length: usize,
        cb: Callback,
        data: *mut c_void,
        result: *mut Value,
    ) -> Status;
    pub fn napi_set_named_property(env: Env, object: Value, utf8name: *const c_char, value: Value) -> Status;
    pub fn napi_get_cb_info(
        env: Env,
        cbinfo: CallbackInfo,
        argc: *mut usize,
        argv: *mut Value,
        this_arg: *mut Value,
        data: *mut *mut c_void,
    ) -> Status;
    pub fn napi_get_typedarray_info(
        env: Env,
        typedarray: Value,
        kind: *mut i32,
        length: *mut usize,
        data: *mut *mut c_void,
        arraybuffer: *mut Value,
        byte_offset: *mut usize,
    ) -> Status;
    pub fn napi_get_value_int32(env: Env, value: Value, result: *mut i32) -> Status;
    pub fn napi_get_value_double(env: Env, value: Value, result: *mut f64) -> Status;
    pub fn napi_create_int32(env: Env, value: i32, result: *mut Value) -> Status;
    pub fn napi_get_undefined(env: Env, result: *mut Value) -> Status;
    pub fn napi_throw_error(env: Env, code: *const c_char, msg: *const c_char) -> Status;
    pub fn napi_throw_type_error(env: Env, code: *const c_char, msg: *const c_char) -> Status;
    pub fn napi_throw_range_error(env: Env, code: *const c_char, msg: *const c_char) -> Status;
    pub fn napi_typeof(env: Env, value: Value, result: *mut i32) -> Status;
    pub fn napi_create_string_utf8(env: Env, text: *const c_char, length: usize, result: *mut Value) -> Status;
    pub fn napi_create_array_with_length(env: Env, length: usize, result: *mut Value) -> Status;
    pub fn napi_set_element(env: Env, object: Value, index: u32, value: Value) -> Status;
    pub fn napi_create_reference(env: Env, value: Value, initial_refcount: u32, result: *mut Ref) -> Status;
    pub fn napi_get_reference_value(env: Env, reference: Ref, result: *mut Value) -> Status;
    pub fn napi_delete_reference(env: Env, reference: Ref) -> Status;
    pub fn napi_create_external(env: Env, data: *mut c_void, finalize: Option<Finalize>, hint: *mut c_void, result: *mut Value) -> Status;
    pub fn napi_get_value_external(env: Env, value: Value, result: *mut *mut c_void) -> Status;
    pub fn napi_open_handle_scope(env: Env, result: *mut HandleScope) -> Status;
    pub fn napi_close_handle_scope(env: Env, scope: HandleScope) -> Status;
    pub fn napi_async_init(env: Env, resource: Value, resource_name: Value, result: *mut AsyncContext) -> Status;
    pub fn napi_async_destroy(env: Env, context: AsyncContext) -> Status;
    pub fn napi_make_callback(
        env: Env,
        context: AsyncContext,
        receiver: Value,
        function: Value,
        argc: usize,
        argv: *const Value,
        result: *mut Value,
    ) -> Status;
    pub fn napi_get_and_clear_last_exception(env: Env, result: *mut Value) -> Status;
    pub fn napi_fatal_exception(env: Env, error: Value) -> Status;
    pub fn napi_get_instance_data(env: Env, data: *mut *mut c_void) -> Status;
    pub fn napi_set_instance_data(env: Env, data: *mut c_void, finalize: Option<Finalize>, hint: *mut c_void) -> Status;
    pub fn napi_create_buffer_copy(env: Env, length: usize, data: *const c_void, result_data: *mut *mut c_void, result: *mut Value) -> Status;
    pub fn napi_get_value_bool(env: Env, value: Value, result: *mut bool) -> Status;
    pub fn napi_get_array_length(env: Env, value: Value, result: *mut u32) -> Status;
    pub fn napi_get_element(env: Env, object: Value, index: u32, result: *mut Value) -> Status;
    pub fn napi_create_double(env: Env, value: f64, result: *mut Value) -> Status;
    pub fn napi_add_async_cleanup_hook(env: Env, hook: AsyncCleanupHook, data: *mut c_void, handle: *mut AsyncCleanupHandle) -> Status;
    pub fn napi_remove_async_cleanup_hook(handle: AsyncCleanupHandle) -> Status;
    pub fn napi_get_global(env: Env, result: *mut Value) -> Status;
    pub fn napi_get_uv_event_loop(env: Env, result: *mut *mut c_void) -> Status;
}
