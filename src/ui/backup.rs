//! Backups: export the vault as one encrypted file, restore it into an empty browser (from
//! the Create screen) or into the open vault (Settings: merge or replace), and the
//! dashboard's reminder after connections changed. The file format and the merge rules are
//! `holdix_core::backup`; the writes are `crate::session`.

use holdix_core::backup::{self, BackupError};
use leptos::ev::SubmitEvent;
use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::dashboard::time_text;
use super::portfolio::{refresh, reload};
use super::settings::change_settings;
use super::vault::PasswordField;
use super::{use_ctx, Ctx};
use crate::browser::{download, read_file, unix_ms};
use crate::session::{Session, SessionError};

/// A size as people read it: `12.3 KB`, `4.5 MB` (integer tenths: float formatting costs
/// bundle bytes).
fn size_text(bytes: usize) -> String {
    let (unit, div) = if bytes >= 1 << 20 {
        ("MB", 1 << 20)
    } else {
        ("KB", 1 << 10)
    };
    let tenths = (bytes * 10 + div / 2) / div;
    format!("{}.{} {unit}", tenths / 10, tenths % 10)
}

/// Exports a backup of the open vault (noting it in the settings first) and offers the
/// file for download; `status` hears what happened.
fn export(ctx: Ctx, status: RwSignal<Option<String>>) {
    status.set(Some("Preparing the backup…".into()));
    ctx.spawn(async move {
        let Some(session) = ctx.session() else { return };
        let exported = session.export_backup().await;
        drop(session);
        let text = match exported {
            Ok((next, file)) => {
                ctx.update_session(next);
                let name = backup::file_name(unix_ms().max(0) as u64);
                match download(&name, "application/octet-stream", &file) {
                    Ok(()) => format!("Saved {name} ({}).", size_text(file.len())),
                    Err(e) => e,
                }
            }
            Err(e) => ctx.report(e),
        };
        status.set(Some(text));
    });
}

/// Settings → Backup: export, the last backup's date, and restore into this vault.
#[component]
pub fn BackupCard() -> impl IntoView {
    let ctx = use_ctx();
    let status = RwSignal::new(None::<String>);
    let last = move || {
        ctx.settings.with(|s| match s.last_backup_ms {
            Some(ms) => format!("Last backup: {}", time_text(ms)),
            None => "No backup made yet.".into(),
        })
    };
    view! {
        <section class="card" data-testid="backup-card">
            <h2>"Backup"</h2>
            <p class="muted">
                "One file with your connections, settings and history, encrypted exactly as this browser keeps them: "
                "it opens only with the vault password, so it is as safe as that password. Keep it anywhere — a cloud drive, a USB stick — "
                "and restore it on a new device or after the browser's data was cleared."
            </p>
            <p data-testid="last-backup">{last}</p>
            <button type="button" class="secondary" data-testid="export-backup" on:click=move |_| export(ctx, status)>
                "Export backup"
            </button>
            <p class="muted" role="status" data-testid="backup-status">{move || status.get()}</p>
            <h3>"Restore from a backup file"</h3>
            <RestoreForm existing=true />
        </section>
    }
}

/// What restoring into an existing vault does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Merge,
    Replace,
}

/// Choose a file, type its vault password, restore. `existing`: into the open vault (merge
/// or replace); otherwise into this empty browser (from the Create screen). Every failure
/// says what happened and leaves the browser's data as it was.
#[component]
pub fn RestoreForm(existing: bool) -> impl IntoView {
    let ctx = use_ctx();
    let file_input = NodeRef::<Input>::new();
    let password = RwSignal::new(String::new());
    let mode = RwSignal::new(Mode::Merge);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(file) = file_input
            .get_untracked()
            .and_then(|i| i.files())
            .and_then(|f| f.get(0))
        else {
            error.set(Some("Choose a backup file first.".into()));
            return;
        };
        let pw = password.get_untracked();
        if pw.is_empty() {
            error.set(Some(
                "Type the password of the vault the backup was made from.".into(),
            ));
            return;
        }
        busy.set(true);
        error.set(None);
        done.set(None);
        let mode = mode.get_untracked();
        let work = async move {
            let result = restore(ctx, &file, &pw, existing.then_some(mode)).await;
            busy.set(false);
            match result {
                Ok(text) => {
                    password.set(String::new());
                    done.set(Some(text));
                }
                Err(text) => error.set(Some(text)),
            }
        };
        // Into the open vault: a task of the session (locking cancels it before it writes).
        if existing {
            ctx.spawn(work);
        } else {
            spawn_local(work);
        }
    };
    let choice =
        move |value: Mode, testid: &'static str, label: &'static str, hint: &'static str| {
            view! {
                <label class="choice">
                    <input type="radio" name="restore-mode" data-testid=testid
                        prop:checked=move || mode.get() == value
                        on:change=move |_| mode.set(value) />
                    <span>{label}<span class="muted">" — "{hint}</span></span>
                </label>
            }
        };
    view! {
        <form on:submit=submit data-testid=if existing { "restore-form" } else { "restore-new-form" }>
            <div class="field">
                <label for="restore-file">"Backup file (.holdix)"</label>
                <input id="restore-file" type="file" accept=".holdix" node_ref=file_input data-testid="restore-file" />
            </div>
            <PasswordField id="backup-password" label="The backup's vault password" value=password />
            {existing.then(|| view! {
                <fieldset class="field">
                    <legend>"Into this vault"</legend>
                    {choice(Mode::Merge, "restore-merge", "Merge", "add the backup's connections and history to this vault; where both have the same key, the one saved later wins; your settings and password stay")}
                    {choice(Mode::Replace, "restore-replace", "Replace", "this vault becomes the backup: its connections, history, settings, and its password")}
                </fieldset>
            })}
            <button type="submit" class="secondary" disabled=move || busy.get() data-testid="restore">
                {move || if busy.get() { "Restoring…" } else { "Restore" }}
            </button>
            <p class="form-error" role="alert" data-testid="restore-error">{move || error.get()}</p>
            <p class="muted" role="status" data-testid="restore-done">{move || done.get()}</p>
        </form>
    }
}

/// Reads, checks and opens the file, then writes it in one transaction. `Ok`: what was
/// done; `Err`: why nothing was.
async fn restore(
    ctx: Ctx,
    file: &web_sys::File,
    password: &str,
    into: Option<Mode>,
) -> Result<String, String> {
    let refused = |e: BackupError| e.to_string();
    // A file that is not a backup (a 50 MB video chosen by mistake) is refused at its head.
    backup::check_head(&read_file(file, Some(backup::HEAD_LEN)).await?).map_err(refused)?;
    let backup = backup::read(&read_file(file, None).await?).map_err(refused)?;
    let opened: Result<_, BackupError> = async {
        let key = crate::kdf::derive(password, &backup.header()?).await?;
        backup.open_with(key)
    }
    .await;
    let theirs = opened.map_err(|e| match e {
        BackupError::Vault(holdix_core::vault::VaultError::WrongPassword) => {
            "Wrong password for this backup: type the password of the vault it was made from."
                .to_string()
        }
        e => e.to_string(),
    })?;
    let report = |e: SessionError| ctx.report(e);
    match into {
        None => {
            let store = ctx.store().ok_or("Browser storage is not open.")?;
            let session = Session::restore(store, &backup, theirs)
                .await
                .map_err(report)?;
            ctx.set_session(session);
            ctx.check_storage(true);
            Ok("Restored.".into())
        }
        Some(Mode::Merge) => {
            let session = ctx.session().ok_or("The vault is locked.")?;
            let merged = session
                .merge_backup(&backup, &theirs)
                .await
                .map_err(report)?;
            drop(session);
            after_restore(ctx).await;
            let mut done = format!(
                "Merged: {} connection(s) added, {} updated, {} history point(s) added.",
                merged.added, merged.updated, merged.points_added
            );
            if merged.not_brought_back > 0 {
                done.push_str(&format!(
                    " {} connection(s) you removed here since that backup stay removed.",
                    merged.not_brought_back
                ));
            }
            Ok(done)
        }
        Some(Mode::Replace) => {
            let session = ctx.session().ok_or("The vault is locked.")?;
            let next = session
                .replace_with(&backup, theirs)
                .await
                .map_err(report)?;
            drop(session);
            ctx.update_session(next);
            // Other tabs hold the replaced vault's key: they lock.
            ctx.tell_other_tabs_password_changed();
            after_restore(ctx).await;
            Ok("Replaced: this vault is now the backup's, with its password.".into())
        }
    }
}

/// The screens read the restored vault, then a refresh brings it up to date.
async fn after_restore(ctx: Ctx) {
    reload(ctx).await;
    refresh(ctx).await;
}

/// The dashboard's offer of a backup after connections changed, until one is made or the
/// offer is dismissed.
#[component]
pub fn BackupReminder() -> impl IntoView {
    let ctx = use_ctx();
    let status = RwSignal::new(None::<String>);
    let dismiss = move |_| {
        let now = unix_ms().max(0) as u64;
        change_settings(
            ctx,
            Box::new(move |s| s.backup_dismissed_ms = now),
            status,
            None,
        );
    };
    move || {
        ctx.settings.with(|s| s.backup_due()).then(|| view! {
            <section class="card notice" role="status" data-testid="backup-reminder">
                <p>
                    "Your connections changed since your last backup. A backup file lets you restore them on a new device "
                    "or after this browser's data is cleared — without creating new keys."
                </p>
                <div class="ranges">
                    <button type="button" class="primary" data-testid="reminder-export" on:click=move |_| export(ctx, status)>"Export backup"</button>
                    <button type="button" class="ghost" data-testid="reminder-dismiss" on:click=dismiss>"Not now"</button>
                </div>
                <p class="muted">{move || status.get()}</p>
            </section>
        })
    }
}
