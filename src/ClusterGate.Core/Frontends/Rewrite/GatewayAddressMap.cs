using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Rewrite;

/// <summary>
/// Returns the gateway endpoint a client should use for a node, or null to drop that node from the reply.
/// </summary>
/// <param name="nodeId">The node's id when the reply names it; null for <c>-MOVED</c>/<c>-ASK</c> and pre-4.0 <c>CLUSTER SLOTS</c>.</param>
/// <param name="announced">The address the cluster announces: the IP, or the hostname when the IP is empty.</param>
public delegate NodeEndpoint? GatewayAddressMap(string? nodeId, NodeEndpoint announced);
