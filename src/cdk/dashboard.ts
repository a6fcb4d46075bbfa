/**
 * The CloudWatch dashboard of one DynamoDbReplicator deployment: replication lag (p50/p99 of the
 * handlers' EMF `ReplicationLag`), iterator age, records applied, failed and rejected records,
 * conflicts (multi-active), discrepancies (the verify job) and the functions' errors and throttles,
 * with the state of every alarm the deployment created. It charts the exact metric and dimension
 * names the handlers emit (lambda/metrics.ts).
 */
import { Aws, Duration, Fn } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { DIMENSION, METRIC } from '../lambda/metrics.js';

/** Where one handler writes: a replica table or the change log, as its EMF dimension names it. */
export interface MetricsDestination {
  /** `ReplicaTable` (value `<region>/<table>`) or `BackupLocation` (value `s3://<bucket>/<prefix>`). */
  readonly dimension: (typeof DIMENSION)['replicaTable' | 'backupLocation'];
  readonly value: string;
  /** The legend's name for it. */
  readonly label: string;
}

/** A verify check's discrepancy metric (cdk/verify-schedule.ts). */
export interface DiscrepancyMetricSource {
  readonly metric: cloudwatch.IMetric;
}

export interface ReplicationDashboardProps {
  /** Default: `<stack name>-<construct id>`, unique per deployment. */
  readonly dashboardName?: string;
  readonly namespace: string;
  /** The source table's name (the SourceTable dimension); may be a token. */
  readonly sourceTable: string;
  readonly destinations: readonly MetricsDestination[];
  /** Stream-triggered functions (iterator age, errors, throttles), by legend name. */
  readonly streamFunctions: readonly { readonly label: string; readonly fn: lambda.IFunction }[];
  /** Other functions of the deployment (errors, throttles only), e.g. the verify job. */
  readonly otherFunctions?: readonly { readonly label: string; readonly fn: lambda.IFunction }[];
  /** The verify job's discrepancy metrics; no discrepancy graph without them. */
  readonly discrepancies?: readonly cloudwatch.IMetric[];
  readonly alarms: readonly cloudwatch.IAlarm[];
}

const PERIOD = Duration.minutes(1);
const HALF = 12;
const THIRD = 8;
const HEIGHT = 6;

/** One of the replicator's own EMF metrics for one destination (replica or backup). */
function emfMetric(
  props: Pick<ReplicationDashboardProps, 'namespace' | 'sourceTable'>,
  metricName: string,
  d: MetricsDestination,
  statistic: string,
  label: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: props.namespace,
    metricName,
    dimensionsMap: { [DIMENSION.sourceTable]: props.sourceTable, [d.dimension]: d.value },
    statistic,
    period: PERIOD,
    label,
  });
}

function graph(
  title: string,
  width: number,
  left: cloudwatch.IMetric[],
  unit?: string,
): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({
    title,
    width,
    height: HEIGHT,
    left,
    ...(unit ? { leftYAxis: { label: unit, showUnits: false, min: 0 } } : {}),
  });
}

export class ReplicationDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ReplicationDashboardProps) {
    super(scope, id);
    const emf = (metricName: string, d: MetricsDestination, statistic: string, label: string) =>
      emfMetric(props, metricName, d, statistic, label);
    const each = (metricName: string, statistic: string, suffix = '') =>
      props.destinations.map((d) => emf(metricName, d, statistic, `${d.label}${suffix}`));
    const replicas = props.destinations.filter((d) => d.dimension === DIMENSION.replicaTable);
    const allFunctions = [...props.streamFunctions, ...(props.otherFunctions ?? [])];
    const rows: cloudwatch.IWidget[][] = [
      [
        graph(
          'Replication lag p50 / p99',
          HALF,
          props.destinations.flatMap((d) => [
            emf(METRIC.replicationLag, d, 'p50', `${d.label} p50`),
            emf(METRIC.replicationLag, d, 'p99', `${d.label} p99`),
          ]),
          'ms',
        ),
        graph(
          'Iterator age (max)',
          HALF,
          props.streamFunctions.map(({ label, fn }) =>
            fn.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: PERIOD, label }),
          ),
          'ms',
        ),
      ],
      [
        graph('Records applied', THIRD, each(METRIC.changesApplied, cloudwatch.Stats.SUM)),
        graph('Failed and rejected records', THIRD, [
          ...each(METRIC.failedRecords, cloudwatch.Stats.SUM, ' failed'),
          ...each(METRIC.rejectedRecords, cloudwatch.Stats.SUM, ' rejected'),
        ]),
        // Conflicts are between replicas: a backup-only deployment has none to chart.
        ...(replicas.length > 0
          ? [
              graph(
                'Conflicts (multi-active)',
                THIRD,
                replicas.map((d) => emf(METRIC.conflicts, d, cloudwatch.Stats.SUM, d.label)),
              ),
            ]
          : []),
      ],
      [
        ...(props.discrepancies && props.discrepancies.length > 0
          ? [graph('Discrepancies (verify job)', HALF, [...props.discrepancies])]
          : []),
        graph(
          'Lambda errors and throttles',
          props.discrepancies && props.discrepancies.length > 0 ? HALF : 2 * HALF,
          allFunctions.flatMap(({ label, fn }) => [
            fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: PERIOD, label: `${label} errors` }),
            fn.metricThrottles({
              statistic: cloudwatch.Stats.SUM,
              period: PERIOD,
              label: `${label} throttles`,
            }),
          ]),
        ),
      ],
      [
        new cloudwatch.AlarmStatusWidget({
          title: 'Alarms (see docs/operations.md, "Alarms and what to do")',
          width: 2 * HALF,
          alarms: [...props.alarms],
        }),
      ],
    ];
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? Fn.join('-', [Aws.STACK_NAME, scope.node.id]),
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });
  }
}
