//! Builds the front end in `web/` with Vite into `OUT_DIR/dist` and generates `OUT_DIR/assets.rs`,
//! which embeds every built file (and a gzip copy of the compressible ones) with `include_bytes!`.
//!
//! `npm ci` runs only when `web/node_modules` is missing or was installed from another
//! `package-lock.json`; the Vite build runs only when a file of the front end changed (the
//! `rerun-if-changed` lines), so Rust-only rebuilds never touch npm.
//!
//! `TRAWL_UI_SKIP_BUILD=1` builds without Node.js: the binary then serves a page saying so.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Written into `node_modules` after a successful `npm ci`: the lock file it installed.
const INSTALLED_LOCK: &str = ".trawl-installed-lock.json";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let web = manifest_dir.join("web");
    for input in ["package.json", "package-lock.json", "index.html", "vite.config.js", "src", "public"] {
        let path = web.join(input);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rerun-if-env-changed=TRAWL_UI_SKIP_BUILD");
    println!("cargo:rerun-if-env-changed=TRAWL_NPM");

    let dist = out_dir.join("dist");
    let skip = std::env::var("TRAWL_UI_SKIP_BUILD").is_ok_and(|v| !v.is_empty() && v != "0");
    let files = if skip {
        let _ = std::fs::remove_dir_all(&dist);
        std::fs::create_dir_all(&dist).expect("create OUT_DIR/dist");
        std::fs::write(dist.join("index.html"), SKIPPED_PAGE).expect("write the placeholder page");
        vec![dist.join("index.html")]
    } else {
        npm_ci_if_needed(&web);
        vite_build(&web, &dist);
        let mut files = Vec::new();
        walk(&dist, &mut files);
        files.sort();
        files
    };
    generate(&dist, &out_dir, &files);
}

const SKIPPED_PAGE: &str = "<!doctype html><meta charset=\"utf-8\"><title>trawl</title>\
<p>This trawl binary was built without its web UI (TRAWL_UI_SKIP_BUILD was set). The HTTP API \
is under /api/v1.</p>\n";

fn npm() -> String {
    std::env::var("TRAWL_NPM").unwrap_or_else(|_| "npm".to_string())
}

fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    panic!("{message}");
}

fn npm_ci_if_needed(web: &Path) {
    let lock = std::fs::read(web.join("package-lock.json"))
        .unwrap_or_else(|e| fail(&format!("cannot read web/package-lock.json of trawl-ui: {e}")));
    let stamp = web.join("node_modules").join(INSTALLED_LOCK);
    if std::fs::read(&stamp).is_ok_and(|installed| installed == lock) {
        return;
    }
    let npm = npm();
    let status = Command::new(&npm)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(web)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "building trawl's web UI needs Node.js (20.19 or newer) and npm, but `{npm}` could not be run: {e}. \
                 Install them (e.g. `apt-get install nodejs npm`, or from https://nodejs.org), or set \
                 TRAWL_UI_SKIP_BUILD=1 to build a binary without the UI"
            ))
        });
    if !status.success() {
        fail(&format!("`npm ci` in crates/ui/web failed ({status}): see its output above"));
    }
    std::fs::write(&stamp, &lock).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", stamp.display())));
}

fn vite_build(web: &Path, dist: &Path) {
    let vite = web.join("node_modules").join("vite").join("bin").join("vite.js");
    let status = Command::new("node")
        .arg(&vite)
        .args(["build", "--emptyOutDir", "--logLevel", "warn", "--outDir"])
        .arg(dist)
        .current_dir(web)
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run `node` to build trawl's web UI: {e}; install Node.js 20.19 or newer")));
    if !status.success() {
        fail(&format!("the Vite build of crates/ui/web failed ({status}): see its output above"));
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", dir.display()))) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type.starts_with("application/json") || content_type == "image/svg+xml"
}

/// Writes `OUT_DIR/assets.rs`: one `Asset` per built file, with a gzip copy when it is smaller.
fn generate(dist: &Path, out_dir: &Path, files: &[PathBuf]) {
    let gz_dir = out_dir.join("dist-gz");
    let _ = std::fs::remove_dir_all(&gz_dir);
    std::fs::create_dir_all(&gz_dir).expect("create OUT_DIR/dist-gz");
    let mut code = String::from("// Generated by build.rs: the built web UI.\npub(crate) static ASSETS: &[Asset] = &[\n");
    for (i, file) in files.iter().enumerate() {
        let relative = file.strip_prefix(dist).expect("file under dist");
        let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
        let body = std::fs::read(file).expect("read a built file");
        let content_type = content_type(file);
        let gzip = if compressible(content_type) && body.len() > 512 {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&body).expect("gzip in memory");
            let compressed = encoder.finish().expect("gzip in memory");
            (compressed.len() < body.len()).then(|| {
                let path = gz_dir.join(format!("{i}.gz"));
                std::fs::write(&path, compressed).expect("write a gzip copy");
                path
            })
        } else {
            None
        };
        // Vite puts content-hashed names under /assets/: they never change, so they may be cached forever.
        let immutable = url.starts_with("/assets/");
        let _ = writeln!(
            code,
            "    Asset {{ path: {url:?}, content_type: {content_type:?}, body: include_bytes!({file:?}), gzip: {gzip}, immutable: {immutable} }},",
            file = file.to_string_lossy(),
            gzip = match gzip {
                Some(p) => format!("Some(include_bytes!({:?}))", p.to_string_lossy()),
                None => "None".to_string(),
            },
        );
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("assets.rs"), code).expect("write OUT_DIR/assets.rs");
}
