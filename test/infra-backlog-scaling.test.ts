// infra/aws/backlog-scaling.yaml: the scaling policy reads the metric the worker publishes.
// (cfn-lint runs over it with the other templates in test/infra-tools.test.ts.)
import { describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE } from '../lib/metrics/emf.js';
import { parseTemplate, Stack } from './support/cloudformation.js';
import { read } from './support/infra-manifest.js';
import { TASK_NAME } from './support/stack.js';

const templatePath = 'infra/aws/backlog-scaling.yaml';
const stack = new Stack(parseTemplate(read(templatePath)), { ClusterName: 'gpu', ServiceName: 'comfyui-worker' });

interface Query {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: { Stat: string; Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] } };
}

const queries = () => {
  const config = stack.properties('BacklogPerWorkerPolicy').TargetTrackingScalingPolicyConfiguration as { CustomizedMetricSpecification: { Metrics: Query[] } };
  return config.CustomizedMetricSpecification.Metrics;
};

describe('the backlog scaling stack', () => {
  it('scales the named ECS service', () => {
    expect(stack.properties('ScalableTarget')).toMatchObject({ ResourceId: 'service/gpu/comfyui-worker', ScalableDimension: 'ecs:service:DesiredCount' });
  });

  it('tracks BacklogCount as the worker publishes it: its namespace, with TaskDef as the only dimension', () => {
    const backlog = queries().find((q) => q.MetricStat?.Metric.MetricName === 'BacklogCount');
    expect(backlog?.MetricStat?.Metric).toEqual({ Namespace: METRICS_NAMESPACE, MetricName: 'BacklogCount', Dimensions: [{ Name: 'TaskDef', Value: TASK_NAME }] });
  });

  it('returns one figure: waiting TaskRuns per running worker', () => {
    const returned = queries().filter((q) => q.ReturnData !== false);
    expect(returned.map((q) => q.Expression)).toEqual(['IF(workers > 0, backlog / workers, backlog)']);
    expect(queries().map((q) => q.Id).sort()).toEqual(['backlog', 'backlogPerWorker', 'workers']);
  });

});
