//! The installable-app files that depend on the build: the service worker, generated from
//! Trunk's output so its precache list is exactly the files in `dist/`, and the PNG icons,
//! drawn from the same shapes as `public/icon.svg`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::{write::ZlibEncoder, Compression};
use sha2::{Digest, Sha256, Sha384};

use crate::{root, Result};

/// Every file under `dir`, as sorted `/`-separated relative paths.
pub fn files_under(dir: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries =
            std::fs::read_dir(&current).map_err(|e| format!("{}: {e}", current.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(dir).map_err(|e| e.to_string())?;
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            files.push(parts.join("/"));
        }
    }
    files.sort();
    Ok(files)
}

/// The app's files: every file of the build but the precompressed copies.
pub fn built_files(dist: &Path) -> Result<Vec<String>> {
    let mut files = files_under(dist)?;
    files.retain(|f| !f.ends_with(".br") && !f.ends_with(".gz"));
    Ok(files)
}

/// What the service worker precaches: every file of the build but itself (and the
/// precompressed copies: the browser asks for a file and the server picks the encoding).
pub fn app_files(dist: &Path) -> Result<Vec<String>> {
    let mut files = built_files(dist)?;
    files.retain(|f| f != "sw.js");
    Ok(files)
}

/// The kinds of file worth compressing (images are compressed already).
const COMPRESSIBLE: [&str; 7] = ["wasm", "js", "css", "html", "svg", "webmanifest", "json"];

/// Writes `f.br` (brotli, quality 11) and `f.gz` (gzip -9) next to every compressible file
/// of the build, for servers that send precompressed files (`holdix-proxy --static` does).
pub fn precompress(dist: &Path) -> Result {
    for file in built_files(dist)? {
        let compressible = file
            .rsplit_once('.')
            .is_some_and(|(_, ext)| COMPRESSIBLE.contains(&ext));
        if !compressible {
            continue;
        }
        let path = dist.join(&file);
        let bytes = std::fs::read(&path).map_err(|e| format!("{file}: {e}"))?;
        let fail = |e: std::io::Error| format!("{file}: {e}");
        let mut br = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 24,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut br, &params).map_err(fail)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&bytes).map_err(fail)?;
        let gz = gz.finish().map_err(fail)?;
        std::fs::write(dist.join(format!("{file}.br")), br).map_err(fail)?;
        std::fs::write(dist.join(format!("{file}.gz")), gz).map_err(fail)?;
    }
    Ok(())
}

/// The service worker without its whole-line `//` comments (they are for readers of
/// `pwa/`, not for every visitor's download).
fn without_comment_lines(js: &str) -> String {
    js.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// After Trunk: minifies the JavaScript (the wasm-bindgen glue and the loader; Trunk's own
/// minifier cannot parse the glue) with terser, updates their integrity attributes in
/// `index.html`, writes the service worker, then the precompressed copies of every file.
pub fn finish_build(dist: &Path) -> Result {
    let index_path = dist.join("index.html");
    let mut index = std::fs::read_to_string(&index_path).map_err(|e| format!("index.html: {e}"))?;
    for file in app_files(dist)?.iter().filter(|f| f.ends_with(".js")) {
        let path = dist.join(file);
        let before = std::fs::read(&path).map_err(|e| format!("{file}: {e}"))?;
        crate::setup::run(
            Command::new("terser")
                .arg(&path)
                .args(["--module", "--compress", "--mangle", "--output"])
                .arg(&path)
                .env("PATH", crate::setup::tool_path()),
        )?;
        let after = std::fs::read(&path).map_err(|e| format!("{file}: {e}"))?;
        index = index.replace(&integrity(&before), &integrity(&after));
    }
    std::fs::write(&index_path, index).map_err(|e| format!("index.html: {e}"))?;
    write_service_worker(dist)?;
    precompress(dist)
}

/// A subresource-integrity value as Trunk writes it.
fn integrity(bytes: &[u8]) -> String {
    use base64::Engine;
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

/// Writes `dist/sw.js` from `pwa/sw.js`: the precache list is every file in `dist`, and the
/// cache version is a digest of their names and contents, so any change makes a new version.
pub fn write_service_worker(dist: &Path) -> Result<PathBuf> {
    let template =
        std::fs::read_to_string(root().join("pwa/sw.js")).map_err(|e| format!("pwa/sw.js: {e}"))?;
    let files = app_files(dist)?;
    let mut digest = Sha256::new();
    for file in &files {
        let bytes = std::fs::read(dist.join(file)).map_err(|e| format!("{file}: {e}"))?;
        digest.update(file.as_bytes());
        digest.update([0]);
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(&bytes);
    }
    let version: String = digest.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let list = files
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if !template.contains("'__VERSION__'") || !template.contains("['__PRECACHE__']") {
        return Err("pwa/sw.js lacks the '__VERSION__' or ['__PRECACHE__'] placeholder".into());
    }
    let sw = without_comment_lines(&template)
        .replace("'__VERSION__'", &format!("'{version}'"))
        .replace("['__PRECACHE__']", &format!("[{list}]"));
    let out = dist.join("sw.js");
    std::fs::write(&out, sw).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

const BLUE: [u8; 4] = [0x1d, 0x4e, 0xd8, 0xff];
const WHITE: [u8; 4] = [0xff, 0xff, 0xff, 0xff];
const CLEAR: [u8; 4] = [0x1d, 0x4e, 0xd8, 0x00];

/// The Holdix mark on a 64-unit grid: a blue tile (rounded unless `maskable`, where the
/// platform applies its own mask and the mark must sit inside the central safe zone), a
/// white diamond and a blue diamond inside it.
fn mark(x: f64, y: f64, maskable: bool) -> [u8; 4] {
    let (outer, inner) = if maskable { (19.0, 10.0) } else { (22.0, 12.0) };
    let d = (x - 32.0).abs() + (y - 32.0).abs();
    let in_tile = maskable || {
        let (r, cx, cy) = (14.0, x.clamp(14.0, 50.0), y.clamp(14.0, 50.0));
        (x - cx).powi(2) + (y - cy).powi(2) <= r * r
    };
    if !in_tile {
        CLEAR
    } else if d <= outer && d > inner {
        WHITE
    } else {
        BLUE
    }
}

/// An indexed-colour PNG of the mark, `size` pixels square, 4×4 supersampled.
pub fn icon_png(size: u32, maskable: bool) -> Vec<u8> {
    const SS: u32 = 4;
    let mut palette: Vec<[u8; 4]> = Vec::new();
    let mut rows = Vec::with_capacity(((size + 1) * size) as usize);
    let scale = 64.0 / f64::from(size * SS);
    for py in 0..size {
        rows.push(0); // filter: none
        for px in 0..size {
            let mut sum = [0u32; 4];
            for sy in 0..SS {
                for sx in 0..SS {
                    let x = (f64::from(px * SS + sx) + 0.5) * scale;
                    let y = (f64::from(py * SS + sy) + 0.5) * scale;
                    let c = mark(x, y, maskable);
                    for (s, v) in sum.iter_mut().zip(c) {
                        *s += u32::from(v);
                    }
                }
            }
            let n = SS * SS;
            let rgba = sum.map(|s| ((s + n / 2) / n) as u8);
            let rgba = if rgba[3] == 0 { CLEAR } else { rgba };
            let index = match palette.iter().position(|p| *p == rgba) {
                Some(i) => i,
                None => {
                    palette.push(rgba);
                    palette.len() - 1
                }
            };
            rows.push(u8::try_from(index).expect("at most 256 colours"));
        }
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(size.to_be_bytes());
    ihdr.extend(size.to_be_bytes());
    ihdr.extend([8, 3, 0, 0, 0]); // 8-bit indexed, deflate, no filter variants, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"PLTE",
        &palette
            .iter()
            .flat_map(|c| [c[0], c[1], c[2]])
            .collect::<Vec<_>>(),
    );
    if palette.iter().any(|c| c[3] != 255) {
        chunk(
            &mut png,
            b"tRNS",
            &palette.iter().map(|c| c[3]).collect::<Vec<_>>(),
        );
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::new(10));
    z.write_all(&rows).expect("in memory");
    chunk(&mut png, b"IDAT", &z.finish().expect("in memory"));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend((data.len() as u32).to_be_bytes());
    png.extend(kind);
    png.extend(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    png.extend(crc.sum().to_be_bytes());
}

/// The icons the manifest names: file name, size, maskable.
/// Chromium installs from a 192 px "any" icon and uses the 512 px maskable one for
/// launchers and splash screens (a 512 px "any" copy would add 3.8 KB for no visible gain).
pub const ICONS: [(&str, u32, bool); 2] = [
    ("icon-192.png", 192, false),
    ("icon-maskable-512.png", 512, true),
];

/// `cargo xtask icons`: redraws `pwa/icons/`.
pub fn write_icons() -> Result {
    let dir = root().join("pwa/icons");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (name, size, maskable) in ICONS {
        let png = icon_png(size, maskable);
        std::fs::write(dir.join(name), &png).map_err(|e| format!("{name}: {e}"))?;
        println!("pwa/icons/{name}: {} bytes", png.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_icons_are_the_drawn_ones() {
        for (name, size, maskable) in ICONS {
            let committed = std::fs::read(root().join("pwa/icons").join(name)).unwrap();
            assert!(
                committed == icon_png(size, maskable),
                "{name} differs: run `cargo xtask icons`"
            );
        }
    }

    #[test]
    fn png_is_well_formed() {
        let png = icon_png(192, false);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 192);
        // The IHDR chunk's CRC, as zlib's crc32 computes it.
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        assert_eq!(crc.sum().to_be_bytes(), png[29..33]);
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
    }

    #[test]
    fn service_worker_lists_dist_and_changes_version_with_content() {
        let dist = std::env::temp_dir().join(format!("holdix-sw-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dist);
        std::fs::create_dir_all(dist.join("icons")).unwrap();
        std::fs::write(dist.join("index.html"), "<html>").unwrap();
        std::fs::write(dist.join("app-0123456789abcdef.js"), "x").unwrap();
        std::fs::write(dist.join("icons/a.png"), "png").unwrap();
        let version = |sw: &str| sw.split("const VERSION = '").nth(1).unwrap()[..16].to_string();

        let first = std::fs::read_to_string(write_service_worker(&dist).unwrap()).unwrap();
        assert!(
            first.contains("['app-0123456789abcdef.js', 'icons/a.png', 'index.html']"),
            "{first}"
        );
        assert_eq!(
            app_files(&dist).unwrap().len(),
            3,
            "sw.js itself is not precached"
        );
        assert!(!first.contains("// "), "comment lines are dropped");
        let again = std::fs::read_to_string(write_service_worker(&dist).unwrap()).unwrap();
        assert_eq!(version(&first), version(&again), "same files, same version");
        std::fs::write(dist.join("index.html"), "<html><body>").unwrap();
        let changed = std::fs::read_to_string(write_service_worker(&dist).unwrap()).unwrap();
        assert_ne!(version(&first), version(&changed));
        std::fs::remove_dir_all(&dist).unwrap();
    }

    /// Every compressible file gets a `.br` and a `.gz` that decompress to it exactly; images
    /// do not; the copies are neither precached nor compressed again.
    #[test]
    fn precompressed_copies_decompress_to_the_files() {
        use std::io::Read;
        let dist = std::env::temp_dir().join(format!("holdix-br-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dist);
        std::fs::create_dir_all(dist.join("icons")).unwrap();
        let js = "export function f() { return 'holdix'; }\n".repeat(200);
        std::fs::write(dist.join("app.js"), &js).unwrap();
        std::fs::write(dist.join("index.html"), "<html><body>Holdix</body></html>").unwrap();
        std::fs::write(dist.join("icons/a.png"), [0x89, b'P', b'N', b'G']).unwrap();
        precompress(&dist).unwrap();
        precompress(&dist).unwrap(); // again: no .br.br
        let mut files = files_under(&dist).unwrap();
        files.sort();
        assert_eq!(
            files,
            [
                "app.js",
                "app.js.br",
                "app.js.gz",
                "icons/a.png",
                "index.html",
                "index.html.br",
                "index.html.gz"
            ]
        );
        let br = std::fs::read(dist.join("app.js.br")).unwrap();
        assert!(
            br.len() * 10 < js.len(),
            "brotli: {} of {} bytes",
            br.len(),
            js.len()
        );
        let mut unbr = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut unbr).unwrap();
        assert_eq!(unbr, js.as_bytes());
        let mut ungz = String::new();
        flate2::read::GzDecoder::new(&std::fs::read(dist.join("app.js.gz")).unwrap()[..])
            .read_to_string(&mut ungz)
            .unwrap();
        assert_eq!(ungz, js);
        assert_eq!(
            app_files(&dist).unwrap(),
            ["app.js", "icons/a.png", "index.html"]
        );
        std::fs::remove_dir_all(&dist).unwrap();
    }
}
