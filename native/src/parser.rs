//! Placeholder until the port lands.
pub const HDR_SIZE: usize = 4;
pub fn parse(_buf: &[u8], start: usize, _end: usize, ops: &mut [i32], _mcl: i32, _mp: i32) -> i32 {
    ops[0] = 0;
    ops[1] = start as i32;
    ops[2] = -1;
    0
}
