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
}
