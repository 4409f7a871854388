fn main() {
    leptos::mount::mount_to_body(holdix::ui::App);
}
