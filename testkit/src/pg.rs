//! A private PostgreSQL cluster of one test, for tests that must restart or stop the
//! server (the shared one under `DATABASE_URL` serves every other test). It is made with
//! the installed `initdb`/`pg_ctl` in a temporary directory, on a free loopback port, run
//! as the `postgres` user when the tests run as root, and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

pub struct Cluster {
    dir: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
}

fn find_bin(name: &str) -> anyhow::Result<PathBuf> {
    if let Ok(dirs) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = dirs.flatten().map(|d| d.path()).collect();
        versions.sort();
        if let Some(found) = versions
            .iter()
            .rev()
            .map(|v| v.join("bin").join(name))
            .find(|p| p.exists())
        {
            return Ok(found);
        }
    }
    let which = Command::new("which").arg(name).output()?;
    if which.status.success() {
        return Ok(PathBuf::from(String::from_utf8_lossy(&which.stdout).trim()));
    }
    bail!("{name} not found: install the PostgreSQL server binaries (Debian: postgresql)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL program as the cluster's owner.
fn run(program: &Path, args: &[&str]) -> anyhow::Result<()> {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = command
        .args(args)
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Cluster {
    pub fn start() -> anyhow::Result<Self> {
        let initdb = find_bin("initdb")?;
        let pg_ctl = find_bin("pg_ctl")?;
        let dir =
            std::env::temp_dir().join(format!("rp-test-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        if is_root() {
            let chown = Command::new("chown").arg("postgres").arg(&dir).status()?;
            if !chown.success() {
                bail!("could not give {} to the postgres user", dir.display());
            }
        }
        let data = dir.join("data");
        let data_s = data.to_string_lossy().into_owned();
        run(
            &initdb,
            &[
                "-D",
                &data_s,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        )?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let cluster = Self { dir, port, pg_ctl };
        cluster.ctl(&["start"])?;
        Ok(cluster)
    }

    fn ctl(&self, action: &[&str]) -> anyhow::Result<()> {
        let data = self.dir.join("data").to_string_lossy().into_owned();
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.to_string_lossy()
        );
        let mut args = vec!["-D", &data, "-l", &log, "-w", "-t", "30", "-o", &options];
        args.extend_from_slice(action);
        run(&self.pg_ctl, &args)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl restart -m fast`: every connection is terminated (SQLSTATE 57P01).
    pub fn restart_fast(&self) -> anyhow::Result<()> {
        self.ctl(&["-m", "fast", "restart"])
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        self.ctl(&["-m", "fast", "stop"])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
