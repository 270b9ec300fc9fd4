//! What the type system refuses: non-`Send` values across threads.

#[test]
fn non_send_values_cannot_cross_threads() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
