//! TensorBoard's HParams summaries, built from tensorboard-proto's messages (tensorboard-rs
//! has no `add_hparams`): the experiment (each setting's domain and the metrics), a
//! session's start (its settings and group) and a session's end (its status). Each is an
//! empty tensor whose summary metadata carries a serialised `HParamsPluginData` (plugin
//! `hparams`); the metrics themselves are ordinary scalars of the session's run.
//!
//! TensorBoard keeps the metadata of the first event of a tag it reads in a run and
//! ignores later ones: a run's session start and end are each read once, from the first
//! file (in name order) that holds them.
use protobuf::well_known_types::{ListValue, Value as ProtoValue};
use protobuf::{Message, RepeatedField};
use serde_json::Value;
use std::collections::HashMap;
use tensorboard_proto::api::{DataType, Experiment, HParamInfo, MetricInfo, MetricName, Status};
use tensorboard_proto::plugin_hparams::{HParamsPluginData, SessionEndInfo, SessionStartInfo};
use tensorboard_proto::summary::Summary;
use tensorboard_proto::tensor::TensorProto;
use tensorboard_proto::tensor_shape::{TensorShapeProto, TensorShapeProto_Dim};
use tensorboard_proto::types::DataType as TensorType;

pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
pub const SESSION_START_TAG: &str = "_hparams_/session_start_info";
pub const SESSION_END_TAG: &str = "_hparams_/session_end_info";
/// A session's start and end tags, and what they become while the session is withdrawn
/// from its experiment: tags the hparams plugin does not read, so TensorBoard lists no
/// session for the run (its other tags stay as they are).
pub const WITHDRAWN_TAGS: [(&str, &str); 2] = [
    (SESSION_START_TAG, "_withdrawn_/session_start_info"),
    (SESSION_END_TAG, "_withdrawn_/session_end_info"),
];
/// The number of `HParamInfo.differs` in TensorBoard's `api.proto`.
const DIFFERS_FIELD: u32 = 7;

/// A metric the HParams views show: the last value of a scalar tag of each session's run.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub tag: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
}

/// A setting the HParams views show, with the values it takes in the experiment.
#[derive(Clone, Debug)]
pub struct SettingDomain {
    pub name: String,
    /// Distinct values, in the order they are shown.
    pub values: Vec<Value>,
}

/// Whether HParams is to show `value` as a string: a string, or an integer. HParams'
/// page prints every number to five significant digits (`0.0000` for seed 0, `32.000`
/// for batch size 32), a string as it is.
fn shown_as_string(value: &Value) -> bool {
    value.is_string() || value.is_i64() || value.is_u64()
}

/// A JSON setting value as protobuf's `Value`: numbers, strings and booleans (the kinds
/// HParams shows), integers as strings ([`shown_as_string`]); `None` for anything else.
fn proto_value(value: &Value) -> Option<ProtoValue> {
    let mut out = ProtoValue::new();
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => out.set_string_value(n.to_string()),
        Value::Number(n) => out.set_number_value(n.as_f64()?),
        Value::String(s) => out.set_string_value(s.clone()),
        Value::Bool(b) => out.set_bool_value(*b),
        _ => return None,
    }
    Some(out)
}

/// The summary of `tag` carrying `data`, an empty float tensor as TensorBoard's own
/// writer makes it.
fn plugin_summary(tag: &str, mut data: HParamsPluginData) -> Summary {
    data.set_version(0);
    let content = data
        .write_to_bytes()
        .expect("an in-memory message serialises");
    let mut dim = TensorShapeProto_Dim::new();
    dim.set_size(0);
    let mut shape = TensorShapeProto::new();
    shape.set_dim(RepeatedField::from_vec(vec![dim]));
    let mut tensor = TensorProto::new();
    tensor.set_dtype(TensorType::DT_FLOAT);
    tensor.set_tensor_shape(shape);
    super::tensorboard::plugin_tensor_summary(tag, "hparams", Some(content), tensor)
}

/// One session's start: its settings (those that are not a number, string or boolean
/// are left out) and its group, the sessions HParams averages together.
pub fn session_start(settings: &[(String, Value)], group: &str, start_time_secs: f64) -> Summary {
    let hparams: HashMap<String, ProtoValue> = settings
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), proto_value(value)?)))
        .collect();
    let mut info = SessionStartInfo::new();
    info.set_hparams(hparams);
    info.set_group_name(group.into());
    info.set_start_time_secs(start_time_secs);
    let mut data = HParamsPluginData::new();
    data.set_session_start_info(info);
    plugin_summary(SESSION_START_TAG, data)
}

/// A session's end: `status` in HParams' words (the run's observer says which).
pub fn session_end(status: Status, end_time_secs: f64) -> Summary {
    let mut info = SessionEndInfo::new();
    info.set_status(status);
    info.set_end_time_secs(end_time_secs);
    let mut data = HParamsPluginData::new();
    data.set_session_end_info(info);
    plugin_summary(SESSION_END_TAG, data)
}

/// The type HParams gives a setting: that of all its values, else a string (integers are
/// strings: [`shown_as_string`]).
fn data_type(values: &[Value]) -> DataType {
    let all = |kind: fn(&Value) -> bool| values.iter().all(kind);
    if all(|v| v.is_number() && !shown_as_string(v)) {
        DataType::DATA_TYPE_FLOAT64
    } else if all(Value::is_boolean) {
        DataType::DATA_TYPE_BOOL
    } else {
        DataType::DATA_TYPE_STRING
    }
}

fn setting_info(setting: &SettingDomain) -> HParamInfo {
    let kind = data_type(&setting.values);
    let values = setting.values.iter().filter_map(|v| match kind {
        DataType::DATA_TYPE_STRING => proto_value(&Value::String(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })),
        _ => proto_value(v),
    });
    let mut domain = ListValue::new();
    domain.set_values(values.collect());
    let mut info = HParamInfo::new();
    info.set_name(setting.name.clone());
    info.set_field_type(kind);
    info.set_domain_discrete(domain);
    if setting.values.len() > 1 {
        // `differs` (field 7 of TensorBoard's HParamInfo, newer than tensorboard-proto's
        // copy): HParams lists the settings that differ first and shows the first few.
        info.mut_unknown_fields().add_varint(DIFFERS_FIELD, 1);
    }
    info
}

fn metric_info(metric: &Metric) -> MetricInfo {
    let mut name = MetricName::new();
    name.set_tag(metric.tag.into());
    let mut info = MetricInfo::new();
    info.set_name(name);
    info.set_display_name(metric.display_name.into());
    info.set_description(metric.description.into());
    info
}

/// The experiment: its settings, each with the values it takes (a discrete domain, so
/// that HParams filters by them), and its metrics.
pub fn experiment(
    description: &str,
    settings: &[SettingDomain],
    metrics: &[Metric],
    created_secs: f64,
) -> Summary {
    let mut experiment = Experiment::new();
    experiment.set_description(description.into());
    experiment.set_time_created_secs(created_secs);
    experiment.set_hparam_infos(settings.iter().map(setting_info).collect());
    experiment.set_metric_infos(metrics.iter().map(metric_info).collect());
    let mut data = HParamsPluginData::new();
    data.set_experiment(experiment);
    plugin_summary(EXPERIMENT_TAG, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plugin_data(summary: &Summary) -> HParamsPluginData {
        let value = &summary.get_value()[0];
        assert_eq!(
            value.get_metadata().get_plugin_data().get_plugin_name(),
            "hparams"
        );
        HParamsPluginData::parse_from_bytes(value.get_metadata().get_plugin_data().get_content())
            .unwrap()
    }

    #[test]
    fn a_session_start_keeps_numbers_strings_and_booleans_and_its_group() {
        let settings = vec![
            ("lr".to_string(), json!(0.001)),
            ("optimizer".to_string(), json!("adamw")),
            ("bn".to_string(), json!(false)),
            ("seed".to_string(), json!(3)),
            ("max_steps".to_string(), Value::Null),
        ];
        let data = plugin_data(&session_start(&settings, "lane", 5.0));
        let info = data.get_session_start_info();
        assert_eq!(info.get_group_name(), "lane");
        assert_eq!(info.get_hparams().len(), 4);
        // An integer as HParams prints it: `3`, not `3.0000`.
        assert_eq!(info.get_hparams()["seed"].get_string_value(), "3");
        assert_eq!(info.get_hparams()["lr"].get_number_value(), 0.001);
        assert_eq!(info.get_hparams()["optimizer"].get_string_value(), "adamw");
        assert!(!info.get_hparams()["bn"].get_bool_value());
        assert_eq!(data.get_version(), 0);
    }

    #[test]
    fn an_experiment_lists_each_setting_with_its_values_and_type() {
        let settings = [
            SettingDomain {
                name: "wd".into(),
                values: vec![json!(0.0), json!(0.0001)],
            },
            SettingDomain {
                name: "grad_factors".into(),
                values: vec![json!("none"), json!(2)],
            },
            SettingDomain {
                name: "batch_size".into(),
                values: vec![json!(32), json!(128)],
            },
        ];
        let metric = Metric {
            tag: "test/accuracy",
            display_name: "accuracy",
            description: "",
        };
        let data = plugin_data(&experiment("x", &settings, &[metric], 1.0));
        let infos = data.get_experiment().get_hparam_infos();
        assert_eq!(infos[0].get_field_type(), DataType::DATA_TYPE_FLOAT64);
        assert_eq!(infos[0].get_domain_discrete().get_values().len(), 2);
        assert!(infos[0].get_unknown_fields().get(DIFFERS_FIELD).is_some());
        // Mixed kinds are shown as strings.
        assert_eq!(infos[1].get_field_type(), DataType::DATA_TYPE_STRING);
        assert_eq!(
            infos[1].get_domain_discrete().get_values()[1].get_string_value(),
            "2"
        );
        // Integers are strings, in their order.
        assert_eq!(infos[2].get_field_type(), DataType::DATA_TYPE_STRING);
        let sizes: Vec<&str> = infos[2]
            .get_domain_discrete()
            .get_values()
            .iter()
            .map(|v| v.get_string_value())
            .collect();
        assert_eq!(sizes, ["32", "128"]);
        assert_eq!(
            data.get_experiment().get_metric_infos()[0]
                .get_name()
                .get_tag(),
            "test/accuracy"
        );
    }

    #[test]
    fn a_session_end_carries_its_status() {
        let data = plugin_data(&session_end(Status::STATUS_FAILURE, 2.0));
        assert_eq!(
            data.get_session_end_info().get_status(),
            Status::STATUS_FAILURE
        );
    }
}
