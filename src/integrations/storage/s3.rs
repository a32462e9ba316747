//! An S3-compatible bucket (AWS S3, MinIO, Ceph, …): ListObjectsV2 by continuation
//! token and GetObject, each signed with SigV4 and sent through the egress gate.

use super::settings::S3Settings;
use super::sigv4::{self, Credentials};
use super::{Object, Store};
use crate::integrations::egress::{Gate, Request, Response};
use crate::integrations::open::Opened;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

/// Pages of 1000 keys; a bucket listing stops at this many pages (a million keys).
const MAX_PAGES: usize = 1000;

#[derive(Debug, Deserialize)]
struct Contents {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Size", default)]
    size: u64,
    #[serde(rename = "LastModified", default)]
    last_modified: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListBucketResult {
    #[serde(rename = "Contents", default)]
    contents: Vec<Contents>,
    #[serde(rename = "IsTruncated", default)]
    is_truncated: bool,
    #[serde(rename = "NextContinuationToken", default)]
    next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct S3Error {
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

pub struct Bucket<'g> {
    gate: &'g Gate,
    target: &'g Opened,
    settings: S3Settings,
    base: Url,
}

/// What an S3 error answer means, in words a person can act on.
fn explain(res: &Response, bucket: &str) -> String {
    let parsed: Option<S3Error> = quick_xml::de::from_reader(res.body.as_slice()).ok();
    let (code, message) = parsed
        .map(|e| (e.code, e.message))
        .unwrap_or_else(|| (String::new(), String::new()));
    match code.as_str() {
        "InvalidAccessKeyId" => "S3 does not know credentials.access_key_id (InvalidAccessKeyId)".into(),
        "SignatureDoesNotMatch" => "S3 refused the request's signature: credentials.secret_access_key is wrong (SignatureDoesNotMatch)".into(),
        "AccessDenied" => "S3 denied access (AccessDenied): the key needs s3:ListBucket on the bucket and s3:GetObject on its objects".into(),
        "NoSuchBucket" => format!("bucket '{bucket}' does not exist (NoSuchBucket); check settings.bucket and settings.endpoint"),
        "RequestTimeTooSkewed" => "this machine's clock is more than 15 minutes off S3's (RequestTimeTooSkewed): fix its time (NTP)".into(),
        "" => format!("S3 answered HTTP {} without an S3 error code", res.status),
        _ => format!("S3 answered HTTP {} {code}: {message}", res.status),
    }
}

impl<'g> Bucket<'g> {
    pub fn new(gate: &'g Gate, target: &'g Opened) -> Result<Self, String> {
        let settings = S3Settings::from(&target.settings)?;
        let base = settings.bucket_url()?;
        if target.secret("access_key_id").is_none() || target.secret("secret_access_key").is_none()
        {
            return Err("credentials access_key_id and secret_access_key are not set".into());
        }
        Ok(Bucket {
            gate,
            target,
            settings,
            base,
        })
    }

    /// A signed GET of `path` (canonically encoded, relative to the bucket URL).
    fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Response, String> {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path()));
        if !query.is_empty() {
            url.set_query(Some(&sigv4::query(query)));
        }
        let creds = Credentials {
            access_key_id: self.target.secret("access_key_id").unwrap_or_default(),
            secret_access_key: self.target.secret("secret_access_key").unwrap_or_default(),
            session_token: self.target.secret("session_token"),
        };
        let headers = sigv4::sign_get(&url, &self.settings.region, &creds, self.gate.now(), &[]);
        let mut req = Request::get(url);
        for (name, value) in &headers {
            req = req.header(name, value);
        }
        let res = self
            .gate
            .send(&self.target.caller, req)
            .map_err(|e| e.to_string())?;
        if res.ok() {
            Ok(res)
        } else {
            Err(explain(&res, &self.settings.bucket))
        }
    }

    fn page(&self, token: Option<&str>, max_keys: &str) -> Result<ListBucketResult, String> {
        let mut query = vec![
            ("list-type", "2"),
            ("prefix", self.settings.prefix.as_str()),
            ("max-keys", max_keys),
        ];
        if let Some(t) = token {
            query.push(("continuation-token", t));
        }
        let res = self.get("", &query)?;
        quick_xml::de::from_reader(res.body.as_slice())
            .map_err(|e| format!("S3 sent a listing that is not ListObjectsV2 XML: {e}"))
    }

    pub fn test(&self) -> Result<String, String> {
        let page = self.page(None, "10")?;
        Ok(format!(
            "listed bucket {} ({} object(s) on the first page under prefix '{}')",
            self.settings.bucket,
            page.contents.len(),
            self.settings.prefix
        ))
    }
}

impl Store for Bucket<'_> {
    fn locate(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.settings.bucket)
    }

    fn list(&mut self) -> Result<Vec<Object>, String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.page(token.as_deref(), "1000")?;
            out.extend(page.contents.into_iter().map(|c| {
                Object {
                    modified: c
                        .last_modified
                        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&Utc)),
                    key: c.key,
                    size: c.size,
                }
            }));
            match (page.is_truncated, page.next_continuation_token) {
                (true, Some(next)) => token = Some(next),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    fn read(&mut self, key: &str, max: u64) -> Result<Vec<u8>, String> {
        let res = self.get(&sigv4::encode(key, true), &[])?;
        if res.body.len() as u64 > max {
            return Err(format!("the object is larger than {max} bytes"));
        }
        Ok(res.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_listing_and_an_error() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>calls</Name><Prefix></Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>a &amp; b.wav</Key><LastModified>2026-11-30T14:15:00.000Z</LastModified><ETag>"x"</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>b.json</Key><Size>7</Size></Contents>
<NextContinuationToken>t/1=</NextContinuationToken></ListBucketResult>"#;
        let page: ListBucketResult = quick_xml::de::from_reader(&xml[..]).unwrap();
        assert_eq!(page.contents.len(), 2);
        assert_eq!(page.contents[0].key, "a & b.wav");
        assert_eq!(page.contents[0].size, 42);
        assert!(page.is_truncated);
        assert_eq!(page.next_continuation_token.as_deref(), Some("t/1="));
        let res = Response {
            status: 403,
            headers: Vec::new(),
            body: b"<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>"
                .to_vec(),
        };
        assert!(explain(&res, "calls").contains("secret_access_key"));
    }
}
