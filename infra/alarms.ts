/**
 * What should wake a person: delayed work that failed every try (the requeue dead-letter
 * queue), stream records that did (the failure queue), and controllers falling behind the API
 * (the stream function's iterator age). Alarms go to one SNS topic; subscribe to it after deploy.
 */
import type { Controllers } from './functions';
import type { Queues } from './queues';
import { settings } from './settings';

export function alarms(q: Queues, fns: Controllers) {
  const topic = new aws.sns.Topic('Alarms');
  const nonEmpty = (name: string, queueName: $util.Input<string>, what: string) =>
    new aws.cloudwatch.MetricAlarm(name, {
      alarmDescription: what,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: queueName },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: [topic.arn],
    });
  nonEmpty('DeadLettersAlarm', q.deadLetters.nodes.queue.name, 'Delayed controller work failed every try');
  nonEmpty('StreamFailuresAlarm', q.streamFailures.nodes.queue.name, 'Stream records failed every try');
  new aws.cloudwatch.MetricAlarm('IteratorAgeAlarm', {
    alarmDescription: 'The controllers lag the API',
    namespace: 'AWS/Lambda',
    metricName: 'IteratorAge',
    dimensions: { FunctionName: fns.stream.nodes.function.name },
    statistic: 'Maximum',
    period: 60,
    evaluationPeriods: 3,
    threshold: settings.iteratorAgeAlarmMs,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    alarmActions: [topic.arn],
  });
  return { topic };
}
