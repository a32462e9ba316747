//! An organization's analysis settings: whether its conversations' text may go to the
//! LLM at all (the text modality), and which analyses run.

use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The text modality: off means no conversation text is sent to the LLM.
    pub text: bool,
    /// Summary, reason for contact, outcome, action items, topics.
    pub summary: bool,
    pub sentiment: bool,
    pub scorecards: bool,
    pub insights: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            text: true,
            summary: true,
            sentiment: true,
            scorecards: true,
            insights: true,
        }
    }
}

impl Settings {
    /// The stored JSON; what cannot be read is the default (everything on).
    pub fn from_stored(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// Applies the fields present in `patch` (a JSON object of booleans).
    pub fn patched(&self, patch: &serde_json::Value) -> Result<Self, String> {
        let mut v = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let (Some(obj), Some(p)) = (v.as_object_mut(), patch.as_object()) else {
            return Err("analysis must be an object".into());
        };
        for (k, val) in p {
            if !obj.contains_key(k) {
                return Err(format!(
                    "analysis.{k} is not a setting; known: text, summary, sentiment, scorecards, insights"
                ));
            }
            if !val.is_boolean() {
                return Err(format!("analysis.{k} must be true or false"));
            }
            obj.insert(k.clone(), val.clone());
        }
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    /// Whether anything would be sent to the LLM.
    pub fn any(&self) -> bool {
        self.summary || self.sentiment || self.scorecards || self.insights
    }
}

/// Writes the stored settings string as the settings object.
pub fn serialize_stored<S: Serializer>(stored: &str, s: S) -> Result<S::Ok, S::Error> {
    Settings::from_stored(stored).serialize(s)
}
