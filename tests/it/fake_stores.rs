//! Real recording stores on 127.0.0.1: moto's S3-compatible server (PyPI
//! `moto[server]`, over HTTPS with the test CA's certificate, checking SigV4
//! signatures against IAM keys) and OpenSSH's own sshd serving SFTP.

use crate::fake_saas::Tls;
use crate::support::free_port;
use serde_json::Value;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The venv with moto (scripts/test-venv.sh; `make test` makes it).
fn venv() -> PathBuf {
    let dir =
        std::env::var("INSITE_TEST_VENV").unwrap_or_else(|_| "/var/tmp/insite-test-venv".into());
    let dir = PathBuf::from(dir);
    assert!(
        dir.join("bin/moto_server").exists(),
        "no moto_server in {}: run scripts/test-venv.sh {} (make test does)",
        dir.display(),
        dir.display()
    );
    dir
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const SEED: &str = r#"
import json, os, sys, boto3
endpoint, ca, command = sys.argv[1], sys.argv[2], sys.argv[3]
def client(kind, **keys):
    return boto3.client(kind, endpoint_url=endpoint, verify=ca, region_name="us-east-1", **keys)
if command == "setup":
    iam = client("iam", aws_access_key_id="seed", aws_secret_access_key="seed")
    iam.create_user(UserName="insite")
    key = iam.create_access_key(UserName="insite")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="insite", PolicyName="all-s3", PolicyDocument=json.dumps(policy))
    keys = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    client("s3", **keys).create_bucket(Bucket=sys.argv[4])
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
else:
    keys = {"aws_access_key_id": os.environ["KEY_ID"], "aws_secret_access_key": os.environ["KEY_SECRET"]}
    s3 = client("s3", **keys)
    for key, path in zip(sys.argv[5::2], sys.argv[6::2]):
        with open(path, "rb") as f:
            s3.put_object(Bucket=sys.argv[4], Key=key, Body=f.read())
"#;

/// moto's S3 with IAM authentication on, one bucket, and one access key for it.
pub struct Moto {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
}

impl Moto {
    pub fn start(tls: &Tls, bucket: &str) -> Moto {
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [
            ("cert.pem", &tls.cert_pem),
            ("key.pem", &tls.key_pem),
            ("ca.pem", &tls.ca_pem),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        std::fs::write(dir.path().join("seed.py"), SEED).unwrap();
        let port = free_port();
        // The first three calls (the IAM user, its key and its policy) are let
        // through; every call after them must be signed with a known key.
        let mut child = Command::new(venv().join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .arg("-c")
            .arg(dir.path().join("cert.pem"))
            .arg("-k")
            .arg(dir.path().join("key.pem"))
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        wait_for_port(port, &mut child, "moto_server");
        let mut moto = Moto {
            child,
            port,
            dir,
            bucket: bucket.to_string(),
            key_id: String::new(),
            secret: String::new(),
        };
        let out = moto.seed(&["setup", bucket], &[]);
        let keys: Value = serde_json::from_slice(&out).unwrap();
        moto.key_id = keys["id"].as_str().unwrap().to_string();
        moto.secret = keys["secret"].as_str().unwrap().to_string();
        moto
    }

    fn seed(&self, args: &[&str], objects: &[(&str, &Path)]) -> Vec<u8> {
        let mut cmd = Command::new(venv().join("bin/python"));
        cmd.arg(self.dir.path().join("seed.py"))
            .arg(self.url())
            .arg(self.dir.path().join("ca.pem"))
            .args(args)
            .env("KEY_ID", &self.key_id)
            .env("KEY_SECRET", &self.secret);
        for (key, path) in objects {
            cmd.arg(key).arg(path);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "seeding moto failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Puts objects (key, file) into the bucket, signed with the bucket's key.
    pub fn put(&self, objects: &[(&str, &Path)]) {
        self.seed(&["put", &self.bucket], objects);
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// OpenSSH's sshd on 127.0.0.1, SFTP only, one authorized client key.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The host key's fingerprint as `ssh-keygen -lf` prints it.
    pub host_key_sha256: String,
    /// The authorized client key (OpenSSH private key) and another key's fingerprint.
    pub client_key: String,
    pub other_fingerprint: String,
    pub user: String,
}

fn keygen(path: &Path) -> String {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "insite-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(status.success());
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(path.with_extension("pub"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_string()
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let host_key_sha256 = keygen(&dir.path().join("host_key"));
        let other_fingerprint = keygen(&dir.path().join("client_key"));
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        let client_key = std::fs::read_to_string(dir.path().join("client_key")).unwrap();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             StrictModes no\nUsePAM no\nAllowUsers {user}\n\
             Subsystem sftp internal-sftp\nForceCommand internal-sftp\n"
        );
        std::fs::write(dir.path().join("sshd_config"), config).unwrap();
        // sshd's privilege separation needs its empty directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(dir.path().join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("sshd.log")).unwrap())
            .spawn()
            .expect("start /usr/sbin/sshd (openssh-server)");
        wait_for_port(port, &mut child, "sshd");
        Sshd {
            child,
            port,
            dir,
            host_key_sha256,
            client_key,
            other_fingerprint,
            user,
        }
    }

    /// sshd's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
