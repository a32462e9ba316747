//! Charts drawn by the server: the geometry of SVG line and bar charts, computed
//! here and written by the templates (no chart library, nothing from the internet).

use serde_json::{json, Value};

pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 160.0;
const PAD: f64 = 28.0;

/// A line through `{day, value}` points on a fixed value range, with day labels at
/// the ends and the middle.
pub fn line(series: &Value, low: f64, high: f64) -> Value {
    let points: Vec<(&str, f64)> = series
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["day"].as_str()?, p["value"].as_f64()?)))
        .collect();
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            WIDTH / 2.0
        } else {
            PAD + (WIDTH - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| {
        let t = ((v - low) / (high - low)).clamp(0.0, 1.0);
        HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * t
    };
    let dots: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(i, (d, v))| json!({"x": round(x(i)), "y": round(y(*v)), "title": format!("{d}: {}", round(*v))}))
        .collect();
    let path = (0..n)
        .map(|i| format!("{},{}", round(x(i)), round(y(points[i].1))))
        .collect::<Vec<_>>()
        .join(" ");
    let mut labels = Vec::new();
    for i in [0, n / 2, n.saturating_sub(1)] {
        if let Some((d, _)) = points.get(i) {
            if !labels
                .iter()
                .any(|l: &Value| l["text"] == d.get(5..).unwrap_or(d))
            {
                labels.push(json!({"x": round(x(i)), "text": d.get(5..).unwrap_or(d)}));
            }
        }
    }
    json!({
        "width": WIDTH, "height": HEIGHT, "points": path, "dots": dots, "labels": labels,
        "label_y": HEIGHT - 6.0, "top": {"y": round(y(high)), "text": round(high)},
        "bottom": {"y": round(y(low)), "text": round(low)}, "empty": n == 0,
    })
}

/// Horizontal bars for `{name, average, count}` groups on 0..`max`.
pub fn bars(groups: &Value, max: f64) -> Value {
    let rows: Vec<Value> = groups
        .as_array()
        .into_iter()
        .flatten()
        .take(10)
        .enumerate()
        .map(|(i, g)| {
            let v = g["average"].as_f64().unwrap_or(0.0);
            json!({
                "y": i as f64 * 28.0, "text_y": i as f64 * 28.0 + 19.0,
                "width": round((v / max).clamp(0.0, 1.0) * 300.0),
                "name": g["name"], "value": round(v), "count": g["count"],
                "value_x": round((v / max).clamp(0.0, 1.0) * 300.0 + 190.0),
            })
        })
        .collect();
    json!({"rows": rows, "height": (rows.len().max(1) * 28) as f64})
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_spans_the_chart() {
        let s = json!([{"day": "2026-11-21", "value": 0}, {"day": "2026-11-22", "value": 5}, {"day": "2026-11-23", "value": 10}]);
        let l = line(&s, 0.0, 10.0);
        assert_eq!(l["points"], "28,132 300,80 572,28");
        assert_eq!(l["labels"][0]["text"], "11-21");
        assert_eq!(l["labels"][2]["text"], "11-23");
        assert_eq!(line(&json!([]), 0.0, 1.0)["empty"], true);
    }

    #[test]
    fn bars_scale_to_the_maximum() {
        let b = bars(
            &json!([{"name": "ann", "average": 50.0, "count": 2}]),
            100.0,
        );
        assert_eq!(b["rows"][0]["width"], 150.0);
    }
}
