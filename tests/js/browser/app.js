// What a web app does with cognate: the SDK's Cognito credentials provider
// for a guest, then a call signed with the credentials. Bundled for the
// browser by esbuild; the page is served from another origin than cognate,
// so every call is a CORS request.

import { CognitoIdentityClient } from "@aws-sdk/client-cognito-identity";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromCognitoIdentityPool } from "@aws-sdk/credential-provider-cognito-identity";

window.runGuestFlow = async (endpoint, identityPoolId) => {
  const clientConfig = { region: "us-east-1", endpoint, maxAttempts: 1 };
  const credentials = fromCognitoIdentityPool({
    client: new CognitoIdentityClient(clientConfig),
    identityPoolId,
  });
  const sts = new STSClient({ ...clientConfig, credentials });
  const caller = await sts.send(new GetCallerIdentityCommand({}));
  const resolved = await credentials();
  return { identityId: resolved.identityId, arn: caller.Arn, accessKeyId: resolved.accessKeyId };
};
