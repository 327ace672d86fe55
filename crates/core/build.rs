//! Embeds `prisma/migrations/*/migration.sql` so the addon applies exactly the files a
//! backend adopts with `prisma migrate`, with no path to find at run time.

use std::{env, fs, path::PathBuf};

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../prisma/migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut names: Vec<String> = fs::read_dir(&root)
        .expect("prisma/migrations exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("migration.sql").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = String::from("/// Prisma migrations in order: (directory name, migration.sql).\npub static MIGRATIONS: &[(&str, &str)] = &[\n");
    for name in &names {
        let file = root.join(name).join("migration.sql");
        println!("cargo:rerun-if-changed={}", file.display());
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            file.canonicalize().unwrap()
        ));
    }
    out.push_str("];\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR").unwrap()).join("migrations.rs"),
        out,
    )
    .unwrap();
}
