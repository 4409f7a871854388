fn main() {
    // The key-derivation worker (src/kdf.rs) runs this module too: it has no page to mount.
    if web_sys::window().is_some() {
        leptos::mount::mount_to_body(holdix::ui::App);
    }
}
