DROP TABLE alerts;
DROP TABLE alert_rules;
DROP TABLE webhook_deliveries;
DROP TABLE egress_log;
DROP TABLE integration_state;
